"""The embed: ``/tracker.js``, ``/widget.js``, the server-rendered box ``/widget/{site}`` and
the most viewed block ``/widget/{site}/top``.

The scripts are package files (``api/static``), read and compressed once by this router's
lifespan, then answered from memory with an ETag; a repeat visit costs a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from string import Template
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import Response

from api.deps import StatsDep, StoreDep
from api.display import (
    LABELS,
    LOCALES,
    OPTIONAL_ROWS,
    PAGE_LABELS,
    READ_AFTER_PAGEVIEW,
    ROWS,
    grouped,
)
from api.errors import responses
from api.routes.stats import LimitQuery, PeriodQuery
from counter.errors import InvalidInput
from counter.figures.top import DEFAULT_LIMIT, read_top
from counter.periods import period_labels

# Unversioned URLs: an hour in caches, then revalidated (a 304 when unchanged). `?v=<version>`
# (the ETag's hash, shown in docs/EMBED.md) may be cached for a year: its bytes never change.
SCRIPT_CACHE = "public, max-age=3600, stale-while-revalidate=86400"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
# The box changes once an aggregation pass anyway; as long as /api/stats.
WIDGET_CACHE = "public, max-age=5, stale-while-revalidate=30"
# The box page runs no script and loads nothing: only its own inline style.
WIDGET_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

# The most viewed block's words (widget.js gets them too): its heading, beside the period's
# name as the box prints it, the views' unit, and what an empty period says.
_TOP_OWN = {
    "vi": {"title": "Tin xem nhiều", "empty": "Chưa có lượt xem"},
    "en": {"title": "Most viewed", "empty": "No views yet"},
}
TOP_LABELS = {
    locale: {**_TOP_OWN[locale], "views": PAGE_LABELS[locale].lower(), **period_labels(locale)}
    for locale in LOCALES
}

HEX_COLOR = r"^#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    version: str
    media_type: str

    @classmethod
    def of(cls, text: str, media_type: str) -> Asset:
        body = text.encode()
        version = hashlib.blake2b(body, digest_size=8).hexdigest()
        return cls(body, gzip.compress(body, compresslevel=9, mtime=0), version, media_type)


@dataclass(frozen=True, slots=True)
class EmbedFiles:
    tracker: Asset
    widget: Asset
    page: Template  # the box page, with $lang $title $css $theme $body
    css: str


def compact_js(source: str) -> str:
    """Drop comment-only lines, blank lines, indentation and the spaces beside punctuation:
    what a minifier's safe half does (tracker.js must stay within 2 kB gzipped).

    Line breaks stay, so automatic semicolon insertion reads the code as written. Only for our
    own files, which keep each ``//`` comment on its own line and have no multi-line strings.
    """
    if "`" in source:
        raise ValueError("compact_js does not handle template literals")
    lines = (line.strip() for line in source.splitlines())
    kept = (line for line in lines if line and not line.startswith("//"))
    return "\n".join(_squeeze(line) for line in kept) + "\n"


# Spaces beside these go: no two of them make another token when they meet ("a = -b" keeps
# its "-", "a + +b" its "+"). After one of them but a closing bracket (or after "return", or
# at a line's start) a "/" opens a regex literal; elsewhere it divides.
_PUNCT = frozenset("{}()[];,=:?<>|&!")
_BEFORE_REGEX = (_PUNCT - frozenset(")]}")) | {""}


def _squeeze(line: str) -> str:
    """One line without the spaces beside punctuation; strings, regex literals and block
    comments are copied as they are."""
    out: list[str] = []
    prev = ""  # the last character of code emitted (not a space)
    i = 0
    while i < len(line):
        ch = line[i]
        if line.startswith("/*", i):
            end = line.find("*/", i + 2)
            end = len(line) if end < 0 else end + 2
            out.append(line[i:end])
            i = end
            continue
        regex = ch == "/" and (prev in _BEFORE_REGEX or "".join(out).endswith("return "))
        if ch in "'\"" or regex:
            j, in_class = i + 1, False
            while j < len(line):
                if line[j] == "\\":
                    j += 2
                    continue
                if regex and line[j] in "[]":
                    in_class = line[j] == "["
                elif line[j] == ch and not in_class:
                    break
                j += 1
            out.append(line[i : j + 1])
            prev, i = ch, j + 1
            continue
        if ch == " ":
            after = line[i + 1] if i + 1 < len(line) else ""
            if prev in _PUNCT or after in _PUNCT or after == " ":
                i += 1
                continue
        else:
            prev = ch
        out.append(ch)
        i += 1
    return "".join(out)


def compact_css(source: str) -> str:
    return " ".join(line.strip() for line in source.splitlines() if line.strip())


def fill_in(source: str, name: str, values: dict[str, Any]) -> str:
    """Replace each ``"__NAME__"`` string of a script by its value as JSON."""
    for placeholder, value in values.items():
        quoted = f'"{placeholder}"'
        if quoted not in source:
            raise ValueError(f"{name} lost its {placeholder} placeholder")
        source = source.replace(quoted, json.dumps(value, ensure_ascii=False))
    return source


def load_files() -> EmbedFiles:
    static = files("api") / "static"
    css = compact_css((static / "widget.css").read_text(encoding="utf-8"))
    widget = fill_in(
        compact_js((static / "widget.js").read_text(encoding="utf-8")),
        "widget.js",
        {
            "__WIDGET_CSS__": css,
            "__WIDGET_LABELS__": LABELS,
            "__WIDGET_ROWS__": list(ROWS),
            "__WIDGET_OPTIONAL_ROWS__": sorted(OPTIONAL_ROWS),
            "__WIDGET_TOP_LABELS__": TOP_LABELS,
        },
    )
    tracker = fill_in(
        compact_js((static / "tracker.js").read_text(encoding="utf-8")),
        "tracker.js",
        {"__PREVIOUS_PERIODS__": list(READ_AFTER_PAGEVIEW)},
    )
    js = "text/javascript; charset=utf-8"
    return EmbedFiles(
        tracker=Asset.of(tracker, js),
        widget=Asset.of(widget, js),
        page=Template((static / "widget.html").read_text(encoding="utf-8")),
        css=css,
    )


@asynccontextmanager
async def load_embed_files(app: FastAPI) -> AsyncIterator[None]:
    app.state.embed_files = load_files()
    yield


router = APIRouter(tags=["embed"], lifespan=load_embed_files)


def _embed_files(request: Request) -> EmbedFiles:
    embed: EmbedFiles = request.app.state.embed_files
    return embed


def _not_modified(request: Request, etags: tuple[str, ...]) -> bool:
    # A proxy that re-compresses may weaken the tag (W/"..."); the bytes are still ours.
    given = [
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    ]
    return "*" in given or any(tag in etags for tag in given)


def _script(request: Request, asset: Asset, v: str | None) -> Response:
    # One version, two encodings: each gets its own ETag, and either one earns a 304.
    etag, gz_etag = f'"{asset.version}"', f'"{asset.version}-gz"'
    gz = "gzip" in request.headers.get("accept-encoding", "").lower()
    headers = {
        "Cache-Control": VERSIONED_CACHE if v == asset.version else SCRIPT_CACHE,
        "ETag": gz_etag if gz else etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(request, (etag, gz_etag)):
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(
        asset.gzipped if gz else asset.body, media_type=asset.media_type, headers=headers
    )


VersionQuery = Annotated[
    str | None, Query(max_length=32, description="the version, for a year-long cache")
]


@router.get(
    "/tracker.js",
    summary="The tracking snippet",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
async def get_tracker(request: Request, v: VersionQuery = None) -> Response:
    return _script(request, _embed_files(request).tracker, v)


@router.get(
    "/widget.js",
    summary="Renders the box into <div data-visitor-stats-widget data-site=…>",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
async def get_widget_js(request: Request, v: VersionQuery = None) -> Response:
    return _script(request, _embed_files(request).widget, v)


def _extra_rows(raw: str | None) -> frozenset[str]:
    asked = frozenset(part.strip() for part in (raw or "").split(",") if part.strip())
    unknown = asked - OPTIONAL_ROWS
    if unknown:
        raise InvalidInput(
            f"rows may name {' and '.join(sorted(OPTIONAL_ROWS))}, "
            f"not {', '.join(sorted(unknown))[:80]}"
        )
    return asked


def render_box(
    page: Template,
    css: str,
    stats: dict[str, Any],
    lang: str,
    grouping: str,
    extra: frozenset[str],
    theme: dict[str, str],
) -> str:
    labels = LABELS[lang]
    rows = "\n".join(
        f'<div class="vs-row"><dt>{html.escape(labels[key])}</dt>'
        f'<dd data-key="{key}">{grouped(int(stats[key]), grouping)}</dd></div>'
        for key in ROWS
        if key not in OPTIONAL_ROWS or key in extra
    )
    return page.substitute(
        lang=lang,
        title=html.escape(labels["title"]),
        css=css,
        theme=_theme(theme),
        body=f'<dl aria-live="polite">\n{rows}\n</dl>',
    )


def _theme(theme: dict[str, str]) -> str:
    return " ".join(f"--vs-{name}: {value};" for name, value in theme.items())


def render_top(
    page: Template,
    css: str,
    top: dict[str, Any],
    origin: str,
    lang: str,
    grouping: str,
    theme: dict[str, str],
) -> str:
    """The most viewed block: an ordered list of links (to ``origin`` + the page's path, in
    the top window: the frame is only the list), each with its title (else its path) and its
    views. Every text from the store is escaped."""
    labels = TOP_LABELS[lang]
    title = f"{labels['title']} · {labels[top['period']]}"
    items = "\n".join(
        f'<li><a href="{html.escape(origin + page["url"])}" target="_top">'
        f"{html.escape(page['title'] or page['url'])}</a> "
        f'<span class="vs-views">{grouped(page["page_views"], grouping)} '
        f"{html.escape(labels['views'])}</span></li>"
        for page in top["pages"]
    )
    body = (
        f'<ol class="vs-top">\n{items}\n</ol>'
        if top["pages"]
        else f'<p class="vs-empty">{html.escape(labels["empty"])}</p>'
    )
    return page.substitute(
        lang=lang, title=html.escape(title), css=css, theme=_theme(theme), body=body
    )


HexColor = Annotated[str | None, Query(pattern=HEX_COLOR, description="hex color, e.g. %23b91c1c")]


@router.get(
    "/widget/{site}",
    summary="The 'Thống kê truy cập' box as a small HTML page, for an <iframe>",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}},
        304: {"description": "Not modified"},
        **responses(400, 404, 503),
    },
)
async def get_widget(
    request: Request,
    store: StoreDep,
    reader: StatsDep,
    site: str,
    lang: Annotated[
        Literal["vi", "en"] | None, Query(description="default: the site's locale")
    ] = None,
    grouping: Annotated[
        Literal[".", ","] | None, Query(description="digit grouping; default: the site's")
    ] = None,
    rows: Annotated[
        str | None,
        Query(max_length=40, description=f"extra rows: {','.join(sorted(OPTIONAL_ROWS))}"),
    ] = None,
    bg: HexColor = None,
    fg: HexColor = None,
    accent: HexColor = None,
) -> Response:
    extra = _extra_rows(rows)
    stats = await reader.read(site)
    # How to print: the summary's `display`, exactly what widget.js reads from /api/stats, so
    # the two boxes agree; each part unless the embed asks for another (as data-lang and
    # data-grouping do there). A summary from before sites chose it has none: the config's.
    display = stats.get("display")
    if display is None:
        config = await store.sites.get(site)
        display = {"locale": config.locale, "grouping": config.grouping}
    embed = _embed_files(request)
    body = render_box(
        embed.page,
        embed.css,
        stats,
        lang or display["locale"],
        grouping or display["grouping"],
        extra,
        _colors(bg, fg, accent),
    )
    return _page(request, body)


def _colors(bg: str | None, fg: str | None, accent: str | None) -> dict[str, str]:
    return {
        name: "#" + value.lstrip("#")
        for name, value in (("bg", bg), ("fg", fg), ("accent", accent))
        if value is not None
    }


def _page(request: Request, text: str) -> Response:
    """A widget page, with its ETag (a 304 when the client holds it), cache and CSP."""
    body = text.encode()
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "Cache-Control": WIDGET_CACHE,
        "ETag": etag,
        "Content-Security-Policy": WIDGET_CSP,
    }
    if _not_modified(request, (etag,)):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


@router.get(
    "/widget/{site}/top",
    summary="The most viewed pages (Tin xem nhiều) as a small HTML page, for an <iframe>",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}},
        304: {"description": "Not modified"},
        **responses(400, 404, 503),
    },
)
async def get_top_widget(
    request: Request,
    store: StoreDep,
    site: str,
    period: PeriodQuery = "today",
    limit: LimitQuery = DEFAULT_LIMIT,
    lang: Annotated[
        Literal["vi", "en"] | None, Query(description="default: the site's locale")
    ] = None,
    grouping: Annotated[
        Literal[".", ","] | None, Query(description="digit grouping; default: the site's")
    ] = None,
    bg: HexColor = None,
    fg: HexColor = None,
    accent: HexColor = None,
) -> Response:
    top = await read_top(store, site, period, limit)
    config = await store.sites.get(site)
    # The frame is on the stats host: links go to the site's first domain, in the scheme
    # the frame was loaded with (a site served on plain HTTP embeds the frame over HTTP).
    origin = "//" + config.domains[0].removeprefix("*.")
    embed = _embed_files(request)
    body = render_top(
        embed.page,
        embed.css,
        top,
        origin,
        lang or config.locale,
        grouping or config.grouping,
        _colors(bg, fg, accent),
    )
    return _page(request, body)
