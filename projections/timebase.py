"""Event time as integers, and the three bucket grids KPIs are kept on.

Every KPI is kept in time buckets and windows are summed from buckets at read time. Three grids
(``Grid``) cover the six windows of the contract exactly:

- ``Grid.HOURLY``: UTC hours (windows ``1h`` and ``24h``),
- ``Grid.DAILY``: UTC days (windows ``7d`` and ``30d``),
- ``Grid.LOCAL_DAILY``: calendar days in the configured time zone (windows ``mtd`` and ``qtd``).

Corrections travel between agents at quarter-hour resolution: every real time-zone offset is a
multiple of 15 minutes, so a quarter-hour lies inside exactly one bucket of each grid. (Not quite
in the 1970s: Monrovia's -0:44:30 and Kiritimati's -10:40 are not; there a quarter-hour counts in
the local day it starts in, for the stream and a recomputation alike.)

Every computation here is total: it is integer arithmetic on epoch microseconds and day numbers,
and a zone's offset is looked up at an instant clamped into what ``datetime`` can represent. So no
instant, however early or late, raises ``OverflowError`` in an agent (an event of 0001-01-01 in a
zone west of UTC once did, inside ``datetime.fromtimestamp``).

"Quarter" here is always a quarter-hour (``quarter_of``: its index since the epoch); the
three-month period of window ``qtd`` is a "calendar quarter".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

US = 1_000_000
QUARTER_US = 900 * US
HOUR_US = 3600 * US
DAY_US = 86_400 * US
QUARTERS_PER_HOUR = 4
QUARTERS_PER_DAY = 96
EPOCH_DATE = date(1970, 1, 1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_OFFSET_LOOKUP_MIN_US = -62_135_337_600 * US  # 0001-01-04T00:00Z
_OFFSET_LOOKUP_MAX_US = 253_401_955_200 * US  # 9999-12-28T00:00Z
"""Offsets are looked up at instants clamped into this range: a zone's offset is under a day, so
the local time of such an instant is representable, and beyond it the zone's first (or last) rule
holds anyway."""


class Grid(StrEnum):
    """A bucket grid. Its value is the letter bucket keys have always used (``"h"``, ``"d"``,
    ``"l"``): a ``str`` enum, so a key holding it is the same text (``composite_key``)."""

    HOURLY = "h"
    DAILY = "d"
    LOCAL_DAILY = "l"


HOURLY, DAILY, LOCAL_DAILY = Grid.HOURLY, Grid.DAILY, Grid.LOCAL_DAILY
"""The members as module names: reading ``Grid.HOURLY`` costs ~100 ns (an enum class attribute),
too much per quarter-hour on the hot paths that name a grid (``buckets_of``, the readouts)."""


def to_us(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime, exact (no float rounding).

    Aware subtraction never builds a datetime, so it cannot overflow (``astimezone`` can, for
    0001-01-01T00:00+01:00)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(at_us: int) -> datetime:
    """The UTC datetime of epoch microseconds; ``OverflowError`` only outside years 1-9999."""
    return EPOCH + timedelta(microseconds=at_us)


def quarter_of(at_us: int) -> int:
    return at_us // QUARTER_US


def day_index(day: date) -> int:
    return (day - EPOCH_DATE).days


def days_from_civil(year: int, month: int, day: int) -> int:
    """Day number (1970-01-01 is 0) of a proleptic Gregorian date, for any year.

    Howard Hinnant's ``days_from_civil``: unlike ``date``, it has no year 1-9999 limit, so the
    end of a calendar quarter in December 9999 is still a number.
    """
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number, the inverse of ``days_from_civil``, for any day."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def utc_offset_us(tz: ZoneInfo, at_us: int) -> int:
    """The zone's UTC offset at an instant, in microseconds; total for any integer instant."""
    clamped = min(max(at_us, _OFFSET_LOOKUP_MIN_US), _OFFSET_LOOKUP_MAX_US)
    offset = from_us(clamped).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // timedelta(microseconds=1)


def local_day_at(tz: ZoneInfo, at_us: int) -> int:
    """Day number of the calendar day in ``tz`` that contains the instant ``at_us``."""
    return (at_us + utc_offset_us(tz, at_us)) // DAY_US


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
        """True when calendar days are UTC days, so the local-daily grid is the daily one."""
        return self.tz_name in ("UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT")

    @property
    def grids(self) -> tuple[Grid, ...]:
        return (HOURLY, DAILY) if self.local_is_utc else (HOURLY, DAILY, LOCAL_DAILY)

    def buckets_of(self, quarter: int) -> tuple[tuple[Grid, int], ...]:
        """The bucket of each kept grid that contains this quarter-hour."""
        hour = quarter // QUARTERS_PER_HOUR
        day = quarter // QUARTERS_PER_DAY
        if self.local_is_utc:
            return ((HOURLY, hour), (DAILY, day))
        return ((HOURLY, hour), (DAILY, day), (LOCAL_DAILY, _local_day(self.tz_name, quarter)))

    def local_day_of_quarter(self, quarter: int) -> int:
        """The local-daily bucket of a quarter-hour: the calendar day in the reporting zone
        it starts in."""
        return _local_day(self.tz_name, quarter)

    def local_day_of(self, moment: datetime) -> int:
        return local_day_at(self._tz, to_us(moment))


@lru_cache(maxsize=65_536)
def _local_day(tz_name: str, quarter: int) -> int:
    return local_day_at(ZoneInfo(tz_name), quarter * QUARTER_US)
