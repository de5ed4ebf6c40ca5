"""Page URLs normalised into the path that counts views: one article, one key."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from counter.errors import InvalidInput

MAX_URL_CHARS = 2048
MAX_PATH_CHARS = 512
_INDEX_PAGES = ("index.html", "index.htm", "index.php", "default.aspx")
# Normalised urls and hosts kept for the ones seen lately: every hit normalises its page and
# reads the host of its Origin and its url, and readers come back to the same few pages (a
# Zipf) from the same few origins. A url that is refused is not kept (it raises).
URLS_KEPT = 8192


# Unicode's Cc, all of it: one search in C rather than a Python loop over each character
# (every hit checks its path, and its title).
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None


def _remove_dot_segments(path: str) -> str:
    """``/a/./b/../c`` -> ``/a/c`` (RFC 3986, 5.2.4), so one page cannot hide under many paths."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


@lru_cache(maxsize=URLS_KEPT)
def normalize_path(url: str, keep_query: bool = False) -> str:
    """``https://Site/a/index.html?x=1#top`` -> ``/a/``: the host is the site's, so it goes
    (whatever its case), the fragment goes, the query goes unless the site keeps it,
    percent-escapes are decoded, Unicode is NFC and dot segments are resolved."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"url is longer than {MAX_URL_CHARS} characters")
    if _has_control(url):
        raise InvalidInput("url holds control characters")
    parts = urlsplit(url.strip())
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise InvalidInput("url must be an http(s) URL or a path starting with '/'")
    if not parts.scheme and not url.startswith("/"):
        raise InvalidInput("url must be an http(s) URL or a path starting with '/'")
    try:
        path = unquote(parts.path or "/", errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput("url path is not UTF-8 once percent-decoded") from None
    path = _remove_dot_segments(unicodedata.normalize("NFC", path))
    if _has_control(path):
        raise InvalidInput("url path holds control characters")
    # 'https://site//tin-tuc/1' and '/tin-tuc//1' are the page '/tin-tuc/1' (servers answer
    # them alike). A url that starts with '//' stays protocol-relative: its host is checked.
    while "//" in path:
        path = path.replace("//", "/")
    for index in _INDEX_PAGES:
        if path == f"/{index}" or path.endswith(f"/{index}"):
            path = path[: -len(index)]
            break
    if not path.startswith("/"):
        path = "/" + path
    if keep_query and parts.query:
        path = f"{path}?{parts.query}"
    return path[:MAX_PATH_CHARS]


@lru_cache(maxsize=URLS_KEPT)
def host_of(url: str) -> str | None:
    """The host of an Origin or Referer header value, or None when it has none."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower() if host else None
