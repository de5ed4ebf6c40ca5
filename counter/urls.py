"""Page URLs normalised into the path that counts views: one article, one key."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from counter.errors import InvalidInput

MAX_URL_CHARS = 2048
MAX_PATH_CHARS = 512
_INDEX_PAGES = ("index.html", "index.htm", "index.php", "default.aspx")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def normalize_path(url: str, keep_query: bool = False) -> str:
    """``https://Site/a/index.html?x=1#top`` -> ``/a/``; the host is the site's, so it goes."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"url is longer than {MAX_URL_CHARS} characters")
    if _has_control(url):
        raise InvalidInput("url holds control characters")
    parts = urlsplit(url.strip())
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise InvalidInput("url must be an http(s) URL or a path starting with '/'")
    if not parts.scheme and not url.startswith("/"):
        raise InvalidInput("url must be an http(s) URL or a path starting with '/'")
    path = unicodedata.normalize("NFC", unquote(parts.path or "/"))
    if _has_control(path):
        raise InvalidInput("url path holds control characters")
    for index in _INDEX_PAGES:
        if path == f"/{index}" or path.endswith(f"/{index}"):
            path = path[: -len(index)]
            break
    if not path.startswith("/"):
        path = "/" + path
    if keep_query and parts.query:
        path = f"{path}?{parts.query}"
    return path[:MAX_PATH_CHARS]


def host_of(url: str) -> str | None:
    """The host of an Origin or Referer header value, or None when it has none."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower() if host else None
