"""The exclusion reasons are defined once (counter/record/verdicts.py): the summary and the
docs take their list from there."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from counter.clock import FakeClock
from counter.figures.summary import empty_summary
from counter.periods import Periods
from counter.record.hit import Hit
from counter.record.verdicts import Exclusion, intake_verdict
from counter.sites import make_site
from tests.conftest import START
from tests.helpers import BROWSER_A, GOOGLEBOT

ROOT = Path(__file__).parents[3]


def test_the_summary_counts_every_reason_from_zero() -> None:
    site = make_site(id="demo.local", domains=["demo.local"])
    now = FakeClock(START).now()
    summary = empty_summary(site, Periods.of(now, site.tz, site.first_weekday), now)
    assert summary["excluded"] == dict.fromkeys((r.value for r in Exclusion), 0)


def test_every_reason_is_documented_where_operators_and_site_owners_read() -> None:
    readme = (ROOT / "README.md").read_text()
    excluded = readme[readme.index("- **excluded**") : readme.index("- The box counts")]
    metrics = (ROOT / "docs" / "OPERATIONS.md").read_text()
    outcomes = next(line for line in metrics.splitlines() if "`visitor_stats_hits_total`" in line)
    privacy = (ROOT / "docs" / "PRIVACY.md").read_text()
    verdict = privacy[privacy.index("- **a verdict**") :].split("\n\n")[0]
    for text in (excluded, outcomes, verdict):
        documented = set(re.findall(r"`([a-z_]+)`", text))
        assert {r.value for r in Exclusion} <= documented, text


def test_the_first_reason_that_applies_is_the_verdict() -> None:
    def verdict(**fields: object) -> Exclusion | None:
        hit = Hit(site="demo.local", url="/a", client_ip="198.51.100.1", user_agent=BROWSER_A)
        return intake_verdict(replace(hit, **fields))  # type: ignore[arg-type]

    assert verdict() is None
    assert verdict(user_agent=GOOGLEBOT, purpose="prefetch", opt_out=True) is Exclusion.bot
    assert verdict(purpose="prefetch", opt_out=True) is Exclusion.prefetch
    assert verdict(opt_out=True, referrer="https://semalt.com/") is Exclusion.opt_out
    assert verdict(referrer="https://semalt.com/") is Exclusion.spam
