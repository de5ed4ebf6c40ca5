"""Every dashboard query and alert expression, run on a real Prometheus that scraped the
real service under traffic: none errors, and the overview's panels return series.

Debian's `prometheus` runs as a plain process on a free loopback port with a temporary
storage directory, scraping `visitor-stats serve --workers 2` every second and loading the
alert rules of deploy/prometheus/alerts.yml. All traffic stays on 127.0.0.1 and is bounded.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.grafana import generate
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT
from tests.ops.conftest import Serve
from tests.servers import free_port

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian prometheus missing"),
]

DEPLOY = Path(__file__).parents[2] / "deploy"
# What Grafana would put in for its variables, for a 1 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "20s", "$__range": "5m", "$__interval": "2s"}


class Prometheus:
    def __init__(self, directory: Path, target: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = directory / "prometheus.log"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "visitor-stats", "static_configs": [{"targets": [target]}]}
            ],
        }
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.directory / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for(lambda: httpx.get(f"{self.base}/-/ready", timeout=1).status_code == 200)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                if condition():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(
            f"condition not met in {timeout_s}s; log:\n{self.log.read_text()[-2000:]}"
        )

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query; the whole answer, errors included (never raised)."""
        response = httpx.get(f"{self.base}/api/v1/query", params={"query": expr}, timeout=10)
        answer: dict[str, Any] = response.json()
        return answer

    def scalar(self, expr: str) -> float:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else math.nan


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    started: list[Prometheus] = []

    def start(target: str) -> Prometheus:
        server = Prometheus(tmp_path / "prometheus", target)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def send_traffic(base: str) -> None:
    """Bounded traffic of every kind the overview shows, to loopback only."""
    with httpx.Client(base_url=base, timeout=5) as http:
        for n in range(12):
            ua = BROWSER_A if n % 2 else BROWSER_B
            ok = http.post(
                "/api/hit",
                json={"site": "demo.local", "url": f"https://demo.local/p{n % 4}"},
                headers={"Origin": "https://demo.local", "User-Agent": f"{ua} v{n}"},
            )
            assert ok.status_code == 200, ok.text
        for _ in range(3):
            bot = http.post(
                "/api/hit",
                json={"site": "demo.local", "url": "https://demo.local/"},
                headers={"Origin": "https://demo.local", "User-Agent": GOOGLEBOT},
            )
            assert bot.status_code == 200
        for _ in range(2):
            foreign = http.post(
                "/api/hit",
                json={"site": "demo.local", "url": "https://demo.local/"},
                headers={"Origin": "https://elsewhere.example", "User-Agent": BROWSER_A},
            )
            assert foreign.status_code == 403
        for _ in range(2):
            assert http.post("/api/hit", content=b"{not json").status_code == 400
        assert http.get("/api/stats", params={"site": "demo.local"}).status_code == 200
        assert http.get("/api/stats", params={"site": "nobody.example"}).status_code == 404


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) for every target of every generated dashboard."""
    out = []
    for name in generate.DASHBOARDS:
        dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / f"{name}.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                out.append((name, panel["title"], target["expr"]))
    return out


def substitute(expr: str, site: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr.replace("$site", site)


def has_data(answer: dict[str, Any]) -> bool:
    result = answer["data"]["result"]
    if answer["data"]["resultType"] == "scalar":
        return not math.isnan(float(result[1]))
    return any(not math.isnan(float(series["value"][1])) for series in result)


def test_every_dashboard_query_and_alert_runs_on_a_real_prometheus(
    serve: type[Serve], prometheus: Callable[[str], Prometheus], tmp_path: Path
) -> None:
    service = serve(tmp_path / "var", "--workers", "2").start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    prom = prometheus(f"127.0.0.1:{service.port}")
    prom.wait_for(lambda: prom.scalar('up{job="visitor-stats"}') == 1)

    send_traffic(service.base)
    # Scraped: the counts and the aggregator's figures, then enough samples for rate().
    prom.wait_for(lambda: prom.scalar('sum(visitor_stats_hits_total{outcome="counted"})') == 12)
    prom.wait_for(lambda: prom.scalar('sum(visitor_stats_site_pageviews{period="today"})') == 12)
    prom.wait_for(
        lambda: prom.scalar("count_over_time(visitor_stats_http_requests_in_flight[20s])") >= 6
    )
    # A second batch, so the rate windows of the queries below hold fresh traffic.
    send_traffic(service.base)
    prom.wait_for(lambda: prom.scalar('sum(visitor_stats_hits_total{outcome="counted"})') == 24)

    errors, empty, ran = [], [], 0
    for dashboard, title, expr in dashboard_queries():
        for site in (".*", "demo.local"):
            query = substitute(expr, site)
            answer = prom.query(query)
            ran += 1
            if answer.get("status") != "success":
                errors.append(f"{dashboard} / {title}: {query}: {answer.get('error')}")
            elif not has_data(answer):
                empty.append(f"{dashboard} / {title}: {query}")
    assert not errors, "\n".join(errors)
    overview_empty = [line for line in empty if line.startswith("overview")]
    assert not overview_empty, "overview panels without series:\n" + "\n".join(overview_empty)
    assert len(empty) <= ran // 4, "most dashboard queries should return data:\n" + "\n".join(empty)

    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for rule in rules["groups"][0]["rules"]:
        answer = prom.query(rule["expr"])
        assert answer.get("status") == "success", f"{rule['alert']}: {answer.get('error')}"
    # The rules Prometheus loaded evaluate without error; a healthy service fires nothing
    # (stale and missing aggregator, store errors, spool: all quiet).
    prom.wait_for(
        lambda: all(
            r.get("lastEvaluation", "").startswith("2") and r["health"] == "ok"
            for g in httpx.get(f"{prom.base}/api/v1/rules", timeout=5).json()["data"]["groups"]
            for r in g["rules"]
        )
    )
    firing = httpx.get(f"{prom.base}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    assert [a["labels"]["alertname"] for a in firing if a["state"] == "firing"] == []
    print(f"\n{ran} dashboard queries ran, {ran - len(empty)} returned data; empty: {empty}")
