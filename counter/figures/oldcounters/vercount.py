"""Vercount (EvanNotFound/vercount, apps/api/internal/counter/service.go): plain keys per
host, ``pv:site:<host>``, ``uv:site:count:<host>`` (STRING counts), ``pv:page:<host>:<path>``
(STRING), and the paths in ``pv:page:index:<host>`` (a SET; older data: found by SCAN).
Vercount keeps no days.
"""

from __future__ import annotations

import re

from counter.figures.carryover import Carry
from counter.figures.oldcounters.options import Options, hosts
from counter.figures.oldcounters.source import RedisSource, SourceUnreadable, redis_source
from counter.sites import Measure


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _paths(src: RedisSource, host: str) -> set[str]:
    paths = {_text(p) for p in src.call("SMEMBERS", f"pv:page:index:{host}")}
    if paths:
        return paths
    prefix = f"pv:page:{host}:"
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    cursor: bytes | int = 0
    while True:
        cursor, keys = src.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        paths.update(_text(k)[len(prefix) :] for k in keys)
        if cursor in (b"0", 0, "0"):
            return paths


def read(options: Options) -> Carry:
    with redis_source(options.source, options.progress) as src:
        found = []
        for host in hosts(options):
            pv = int(src.call("GET", f"pv:site:{host}") or 0)
            uv = int(src.call("GET", f"uv:site:count:{host}") or 0)
            paths = sorted(_paths(src, host))
            views = src.call("MGET", *[f"pv:page:{host}:{p}" for p in paths]) if paths else []
            of_host = {p: int(v) for p, v in zip(paths, views, strict=True) if v is not None}
            if pv or uv or of_host:
                found.append((host, pv, uv, of_host))
        read_from = src.location.label
    if not found:
        raise SourceUnreadable(
            f"no vercount keys for {', '.join(hosts(options)) or 'the site'} (pv:site:<host>); "
            "give --host as vercount saw it (with its port if not 80/443)"
        )
    pages: dict[str, int] = {}
    for _, _, _, of_host in found:
        for path, views in of_host.items():
            if path.startswith("/"):
                pages[path] = pages.get(path, 0) + views
    pv = sum(f[1] for f in found)
    uv = sum(f[2] for f in found)
    notes = [f"vercount for {', '.join(f[0] for f in found)}: site_pv {pv:,}, site_uv {uv:,}"]
    totals = {Measure.pageviews: pv, Measure.visitors: uv, Measure.visits: uv}
    # What the data is: the hosts its keys are of, not the server holding them.
    source = f"vercount hosts {','.join(sorted(f[0] for f in found))}"
    return Carry(
        source=source,
        read_from=read_from,
        format="vercount",
        totals=totals,
        pages=pages,
        notes=notes,
    )
