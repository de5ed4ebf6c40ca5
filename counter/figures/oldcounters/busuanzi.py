"""Busuanzi as soxft/busuanzi keeps it in Redis (core/count.go, core/types.go):
``<prefix>:site_pv:<hash(host)>`` (STRING), ``<prefix>:site_uv:<hash(host)>`` (HyperLogLog),
``<prefix>:page_pv:<hash(host)>`` (ZSET hash(path) -> views), hash = MD5 hex, or its middle 16
digits (``Encrypt: MD516``, the default); the path is ``host&path`` unless ``PathStyle``.
The page hashes cannot be reversed: their URLs come from the site's sitemap (``--sitemap``).
Busuanzi keeps no days.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

from counter.figures.carryover import Carry
from counter.figures.oldcounters.options import Options, hosts
from counter.figures.oldcounters.source import RedisSource, SourceUnreadable, redis_source
from counter.sites import Measure

_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


def digest(text: str, kind: str) -> str:
    full = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return full[8:24] if kind == "md516" else full


def sitemap_urls(path: str) -> list[str]:
    """Every <loc> of a sitemap file (or a plain list, one URL a line)."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_SITEMAP_BYTES:
            raise SourceUnreadable(f"--sitemap {path}: larger than {MAX_SITEMAP_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceUnreadable(f"--sitemap {path}: {exc.strerror}") from None
    if text.lstrip().startswith("<"):
        try:
            root = ElementTree.fromstring(text)  # noqa: S314 (a local file the operator gave)
        except ElementTree.ParseError as exc:
            raise SourceUnreadable(f"--sitemap {path}: not XML ({exc})") from None
        return [(e.text or "").strip() for e in root.iter() if e.tag.endswith("loc")]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_host(src: RedisSource, options: Options, host: str) -> tuple[int, int, dict[str, int]]:
    p, kind = options.key_prefix, options.hash
    site = digest(host, kind)
    pv = int(src.call("GET", f"{p}:site_pv:{site}") or 0)
    uv = int(src.call("PFCOUNT", f"{p}:site_uv:{site}") or 0)
    scores: dict[str, int] = {}
    cursor = b"0"
    while True:
        cursor, chunk = src.call("ZSCAN", f"{p}:page_pv:{site}", cursor, "COUNT", 1000)
        # redis-py hands ZSCAN's member/score pairs over as tuples.
        for raw, score in chunk:
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            scores[member] = scores.get(member, 0) + int(float(score))
        if cursor in (b"0", 0, "0"):
            break
    return pv, uv, scores


def read(options: Options) -> Carry:
    if not _KEY_PREFIX.fullmatch(options.key_prefix):
        raise SourceUnreadable("--key-prefix may hold letters, digits and _ . : - (at most 64)")
    if options.hash not in ("md516", "md532"):
        raise SourceUnreadable("--hash must be md516 or md532 (busuanzi's Bsz.Encrypt)")
    urls = sitemap_urls(options.sitemap) if options.sitemap else []
    with redis_source(options.source, options.progress) as src:
        found = [(h, *_read_host(src, options, h)) for h in hosts(options)]
        read_from = src.location.label
    found = [f for f in found if f[1] or f[2] or f[3]]
    if not found:
        raise SourceUnreadable(
            f"no busuanzi keys for {', '.join(hosts(options)) or 'the site'} under "
            f"{options.key_prefix}:site_pv:… (give --host as the old script saw it, with its "
            "port if any; check --key-prefix and --hash)"
        )
    pv = sum(f[1] for f in found)
    uv = sum(f[2] for f in found)
    pages: dict[str, int] = {}
    matched: set[tuple[str, str]] = set()
    for url in urls:
        parts = urlsplit(url)
        path = parts.path or "/"
        for host, _, _, scores in found:
            unique = path if options.path_style else f"{host}&{path}"
            key = digest(unique, options.hash)
            if key in scores and (host, key) not in matched:
                matched.add((host, key))
                pages[url] = pages.get(url, 0) + scores[key]
    hashed = sum(len(f[3]) for f in found)
    notes = [
        f"busuanzi for {', '.join(f[0] for f in found)}: site_pv {pv:,}, site_uv {uv:,}",
        f"pages: {len(matched):,} of {hashed:,} found in the sitemap"
        + (
            f" ({hashed - len(matched):,} stay in the all time only)"
            if hashed > len(matched)
            else ""
        ),
    ]
    # Busuanzi counts pageviews and visitors; a visitor made at least one visit.
    totals = {Measure.pageviews: pv, Measure.visitors: uv, Measure.visits: uv}
    # What the data is: its keys' prefix and the hosts they are of, not the server holding them.
    source = (
        f"busuanzi-redis prefix {options.key_prefix} hosts {','.join(sorted(f[0] for f in found))}"
    )
    return Carry(
        source=source,
        read_from=read_from,
        format="busuanzi-redis",
        totals=totals,
        pages=pages,
        notes=notes,
    )
