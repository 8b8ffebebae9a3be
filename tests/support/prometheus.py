"""A real Prometheus server for tests: scrapes the given targets, evaluates the given rule files.

    with PrometheusServer(tmp_path / "prometheus",
                          scrape_targets={"salespulse-workers": ["127.0.0.1:6066"]}) as prom:
        prom.wait_for_targets_up()
        prom.query('sum(sales_revenue{scope="company", window="30d"})')

Each server writes its own configuration, listens on a free port of 127.0.0.1 and keeps its TSDB
in its own work directory. When ``prometheus`` is not on PATH, ``deploy/prometheus/install.sh``
(idempotent) installs it first.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx

from tests.support.polling import wait_until
from tests.support.stack import free_port

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "deploy" / "prometheus" / "install.sh"
READY_TIMEOUT_S = 30


class PrometheusError(RuntimeError):
    """The server answered a query or request with an error."""


def prometheus_binary(name: str = "prometheus") -> str:
    """Path of ``prometheus`` (or ``promtool``, from the same package), installing it with
    deploy/prometheus/install.sh when missing: a fresh CI machine has neither."""
    found = shutil.which(name)
    if found is None:
        if not INSTALL_SH.exists():
            raise RuntimeError(f"{name} is not installed and {INSTALL_SH} does not exist")
        subprocess.run([str(INSTALL_SH)], check=True, stdin=subprocess.DEVNULL, timeout=840)
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(f"{INSTALL_SH} ran, but {name} is still not on PATH")
    return found


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        scrape_targets: Mapping[str, Iterable[str]],
        rule_files: Iterable[Path | str] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
    ) -> None:
        self.workdir = Path(workdir)
        self.scrape_targets = {job: list(targets) for job, targets in scrape_targets.items()}
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self._client = httpx.Client(timeout=30)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("Prometheus is not started")
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict:
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.scrape_targets.items()
            ],
        }

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> PrometheusServer:
        binary = prometheus_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML library needed to write the configuration.
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                "--storage.tsdb.retention.time=1d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        wait_until(
            self._ready,
            timeout_s,
            0.2,
            "prometheus ready",
            retry_on=(httpx.TransportError,),
            details=self.log_tail,
        )

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited early:\n{self.log_tail()}")
        return self._client.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def stop(self, timeout_s: float = 20) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._client.close()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- HTTP API ----------------------------------------------------------------------------
    def _api(self, path: str, params: Mapping[str, object] | None = None) -> object:
        response = self._client.get(f"{self.url}/api/v1/{path}", params=params)
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {response.status_code} {response.text}") from None
        if body.get("status") != "success":
            raise PrometheusError(
                f"{path} {dict(params or {})}: {body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """Instant query: the ``result`` list (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        data = self._api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        """Range query: the ``result`` matrix (``[{"metric": {...}, "values": [[t, "v"]]}]``)."""
        data = self._api("query_range", {"query": expr, "start": start, "end": end, "step": step})
        return data["result"]

    def alerts(self) -> list[dict]:
        """Active (pending and firing) alerts, from GET /api/v1/alerts."""
        return self._api("alerts")["alerts"]

    def targets(self) -> list[dict]:
        """Active scrape targets, from GET /api/v1/targets."""
        return self._api("targets", {"state": "active"})["activeTargets"]

    def wait_for_targets_up(self, timeout_s: float = 30, scrapes: int = 2) -> None:
        """Until every configured target is up and has been scraped at least ``scrapes`` times."""
        wait_until(
            lambda: self._target_problems(scrapes),
            timeout_s,
            0.5,
            f"every target up and scraped {scrapes} times",
            until=lambda problems: not problems,
            details=self.log_tail,
        )

    def _target_problems(self, scrapes: int) -> list[str]:
        expected = sum(len(targets) for targets in self.scrape_targets.values())
        targets = self.targets()
        problems = [
            f"{t['labels']['job']} {t['scrapeUrl']}: {t['health']} {t['lastError']}"
            for t in targets
            if t["health"] != "up"
        ]
        if len(targets) != expected:
            problems.append(f"{len(targets)} active targets, {expected} configured")
        if problems:
            return problems
        counts = self.query("sum_over_time(up[10m])")  # successful scrapes per target
        done = [c for c in counts if float(c["value"][1]) >= scrapes]
        if len(done) >= expected:
            return []
        return [f"{len(done)} of {expected} targets scraped {scrapes} times"]
