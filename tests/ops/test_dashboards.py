"""The checked-in dashboards are exactly what deploy/grafana/generate.py writes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from deploy.grafana import generate

DASHBOARDS = Path(generate.__file__).parent / "dashboards"


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_checked_in_dashboards_match_the_generator() -> None:
    for name in generate.DASHBOARDS:
        path = DASHBOARDS / f"{name}.json"
        assert path.read_text(encoding="utf-8") == generate.render(name), (
            f"{path} is out of date: run python -m deploy.grafana.generate"
        )
    assert sorted(p.stem for p in DASHBOARDS.glob("*.json")) == sorted(generate.DASHBOARDS)


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(generate, "OUT", tmp_path)
    assert generate.main(["--check"]) == 1  # nothing written there yet
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    (tmp_path / "overview.json").write_text("{}", encoding="utf-8")
    assert generate.main(["--check"]) == 1


def test_dashboards_have_fixed_uids_unique_panel_ids_and_a_site_variable() -> None:
    loaded = {n: json.loads((DASHBOARDS / f"{n}.json").read_text()) for n in generate.DASHBOARDS}
    assert {d["uid"] for d in loaded.values()} == {
        "visitor-stats-overview",
        "visitor-stats-service",
    }
    for dashboard in loaded.values():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)) and 0 not in ids
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "visitor-stats-prometheus"
        assert all(t["expr"].strip() for t in targets(dashboard))
    overview = loaded["overview"]
    assert [v["name"] for v in overview["templating"]["list"]] == ["site"]
    assert all("$site" in t["expr"] for t in targets(overview))


def test_every_query_names_only_visitor_stats_metrics() -> None:
    for name in generate.DASHBOARDS:
        dashboard = json.loads((DASHBOARDS / f"{name}.json").read_text())
        for target in targets(dashboard):
            metrics = set(re.findall(r"\b(visitor_stats_\w+)", target["expr"]))
            assert metrics, target["expr"]
