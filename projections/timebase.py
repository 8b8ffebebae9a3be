"""Event time as integers, and the three bucket grids KPIs are kept on.

Every KPI is kept in time buckets and windows are summed from buckets at read time. Three grids
cover the six windows of the contract exactly:

- ``h``: UTC hours (windows ``1h`` and ``24h``),
- ``d``: UTC days (windows ``7d`` and ``30d``),
- ``l``: calendar days in the configured time zone (windows ``mtd`` and ``qtd``).

Contributions travel between agents at quarter-hour resolution: every real time-zone offset is a
multiple of 15 minutes, so a quarter-hour lies inside exactly one bucket of each grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

US = 1_000_000
QUARTER_US = 900 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
QUARTERS_PER_HOUR = 4
QUARTERS_PER_DAY = 96
EPOCH_DATE = date(1970, 1, 1)

HOURLY, DAILY, LOCAL_DAILY = "h", "d", "l"


def to_us(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime, exact (no float rounding)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(at_us: int) -> datetime:
    seconds, micros = divmod(at_us, US)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def quarter_of(at_us: int) -> int:
    return at_us // QUARTER_US


def day_index(day: date) -> int:
    return (day - EPOCH_DATE).days


@dataclass(frozen=True)
class BucketGrid:
    """Maps quarter-hours to bucket indexes of the three grids for one reporting time zone."""

    tz_name: str = "UTC"
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", ZoneInfo(self.tz_name))

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def local_is_utc(self) -> bool:
        """True when calendar days are UTC days, so the ``l`` grid is the ``d`` grid."""
        return self.tz_name in ("UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT")

    @property
    def grids(self) -> tuple[str, ...]:
        return (HOURLY, DAILY) if self.local_is_utc else (HOURLY, DAILY, LOCAL_DAILY)

    def buckets_of(self, quarter: int) -> tuple[tuple[str, int], ...]:
        """The bucket of each kept grid that contains this quarter-hour."""
        hour = quarter // QUARTERS_PER_HOUR
        day = quarter // QUARTERS_PER_DAY
        if self.local_is_utc:
            return ((HOURLY, hour), (DAILY, day))
        return ((HOURLY, hour), (DAILY, day), (LOCAL_DAILY, _local_day(self.tz_name, quarter)))

    def local_day_of(self, moment: datetime) -> int:
        return day_index(moment.astimezone(self._tz).date())


@lru_cache(maxsize=65_536)
def _local_day(tz_name: str, quarter: int) -> int:
    moment = datetime.fromtimestamp(quarter * 900, ZoneInfo(tz_name))
    return day_index(moment.date())
