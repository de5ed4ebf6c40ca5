"""A realistic mix of hits and stats reads, as whole HTTP/1.1 requests for the load tools.

- User agents: the real-browser corpus of tests/counter/record/data (``browsers.txt``,
  fake-useragent's agents from real traffic, and ``browsers-vn.txt``, the Vietnamese and
  in-app browsers; data/README.md gives their sources), drawn with a long tail (Zipf, s = 1,
  over a shuffled order, so a few agents are common and most are rare). Each pool of hits adds
  as many agents never sent before as it draws distinct corpus agents, so half the distinct
  agents of a load run (every run is shorter than a minute) are unseen: new versions of the
  drawn agents, their version numbers moved as releases move them (a patch or build number,
  the major of a reduced Chrome agent, the OS version).
- Visitors: an address and an agent, each making a few pageviews (geometric, mean 2.5); one
  visitor in five shares an address with an earlier one (carrier NAT). Addresses come from
  Vietnamese ISPs' blocks, one in seven IPv6, and reach the server as ``X-Forwarded-For``
  (only when the server trusts the loopback proxy; otherwise every hit comes from 127.0.0.1).
- Pages: Zipf (s = 1) over 10,000 article paths; referrers from search, social and the site.
- Headers as a browser's ``sendBeacon`` sends them (about 700 bytes a hit); the bare app gets
  the very same bytes.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
import re
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent.parent / "tests" / "counter" / "record" / "data"
CORPUS_FILES = ("browsers.txt", "browsers-vn.txt")
SITE = "bench.gov.vn"
HOST = "stats.bench.gov.vn"

V4_BLOCKS = [
    ipaddress.ip_network(n)
    for n in ("14.160.0.0/11", "113.160.0.0/11", "27.64.0.0/12", "171.224.0.0/11", "42.112.0.0/13")
]
V6_BLOCKS = [ipaddress.ip_network(n) for n in ("2001:ee0::/32", "2402:800::/32")]

# Words of the slugs of the pages' paths.
_SLUG_WORDS = (
    "thong-bao lich tiep cong-dan ke-hoach to-chuc hoi-nghi trien-khai van-hoa the-thao "
    "du-lich le-hoi giai-dau bong-da nghe-thuat truyen-thong xa-hoi giao-duc y-te kinh-te "
    "phat-trien nong-thon moi chuyen-doi so dich-vu cong truc-tuyen tinh huyen xa phuong nam "
    "2026"
)
WORDS = _SLUG_WORDS.split()
SECTIONS = ("tin-tuc", "thong-bao", "van-ban", "su-kien", "du-lich", "the-thao", "van-hoa")
REFERRERS = (
    (0.35, "https://www.google.com/"),
    (0.05, "https://coccoc.com/search"),
    (0.15, "https://www.facebook.com/"),
    (0.05, "https://zalo.me/"),
    (0.25, None),  # a page of the site itself
    (0.15, ""),  # none: typed, a bookmark, an app
)

# A product's version in an agent; the names are the ones releases move.
PRODUCT = re.compile(
    r"(?P<name>Chrome|CriOS|Edg|EdgiOS|EdgA|OPR|Firefox|FxiOS|GSA|FBAV|coc_coc_browser|"
    r"SamsungBrowser|UCBrowser|YaBrowser|Version|Instagram|Zalo android|Zalo iOS|Ddg|"
    r"Vivaldi|rv:)(?P<sep>[/ ]?)(?P<version>\d+(?:\.\d+)+)"
)
OS_VERSION = re.compile(r"(?P<name>Android |iPhone OS |CPU OS |Mac OS X )(?P<version>\d+(?:_\d+)*)")


def read_corpus(names: Iterable[str] = CORPUS_FILES) -> list[str]:
    """The corpus agents, each once, in file order."""
    agents: dict[str, None] = {}
    for name in names:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                agents[line] = None
    return list(agents)


def zipf_cumulative(count: int, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank**s) for rank in range(1, count + 1)))


def _moved_product(match: re.Match[str], rng: random.Random) -> str:
    parts = [int(p) for p in match["version"].split(".")]
    if len(parts) > 1 and not any(parts[1:]):
        # A reduced agent (Chrome/124.0.0.0) moves only its major.
        parts[0] = max(1, parts[0] + rng.choice((-3, -2, -1, 1, 2, 3)))
    else:
        last = max(i for i in range(len(parts)) if i == 0 or parts[i] or i == len(parts) - 1)
        if last >= 2 and rng.random() < 0.5:
            parts[last - 1] = max(0, parts[last - 1] + rng.randint(-40, 40))
        parts[last] = rng.randint(0, max(250, parts[last] * 2))
    return f"{match['name']}{match['sep']}{'.'.join(map(str, parts))}"


def _moved_os(match: re.Match[str], rng: random.Random) -> str:
    parts = [int(p) for p in match["version"].split("_")]
    if match["name"] == "Android ":
        parts[0] = min(16, max(8, parts[0] + rng.choice((-2, -1, 1))))
    elif len(parts) > 1:
        parts[-1] = rng.randint(0, 7)
    else:
        parts.append(rng.randint(1, 7))
    return f"{match['name']}{'_'.join(map(str, parts))}"


def variant(agent: str, rng: random.Random) -> str | None:
    """A newer or older release of ``agent``: one or two of its versions moved; None when the
    agent has no version we know how to move."""
    products = list(PRODUCT.finditer(agent))
    systems = list(OS_VERSION.finditer(agent))
    if not products and not systems:
        return None
    out = agent
    if products and (not systems or rng.random() < 0.8):
        m = rng.choice(products)
        out = out[: m.start()] + _moved_product(m, rng) + out[m.end() :]
    if systems and (out == agent or rng.random() < 0.3):
        m = rng.choice(list(OS_VERSION.finditer(out)))
        out = out[: m.start()] + _moved_os(m, rng) + out[m.end() :]
    return out


def _address(rng: random.Random) -> str:
    if rng.random() < 1 / 7:
        block = rng.choice(V6_BLOCKS)
        offset = rng.getrandbits(64) << 64 | rng.getrandbits(64)
        return str(block[offset % block.num_addresses])
    block = rng.choice(V4_BLOCKS)
    return str(block[rng.randrange(1, block.num_addresses - 1)])


def _paths(count: int, rng: random.Random) -> list[str]:
    paths = []
    for n in range(count):
        slug = "-".join(rng.sample(WORDS, rng.randint(4, 9)))
        paths.append(f"/{rng.choice(SECTIONS)}/{slug}-{100000 + n}.html")
    return paths


@dataclass(frozen=True)
class PoolFacts:
    """What a pool of hits holds, to print beside the figures."""

    hits: int
    visitors: int
    distinct_agents: int
    unseen_agents: int  # distinct agents never sent before this pool
    unseen_hits: int  # hits carrying one of them
    top_page_share: float

    @property
    def unseen_share(self) -> float:
        return self.unseen_agents / max(self.distinct_agents, 1)


class Mix:
    """Makes pools of requests; remembers every agent it has sent, so each pool's unseen
    agents are new to the server (given :meth:`warmup` was sent first)."""

    def __init__(
        self, *, seed: int = 11, pages: int = 10_000, forwarded: bool = True, site: str = SITE
    ) -> None:
        self.rng = random.Random(seed)
        self.site = site
        self.forwarded = forwarded
        self.corpus = read_corpus()
        self.rng.shuffle(self.corpus)  # the rank of an agent in the long tail
        self._agent_weights = zipf_cumulative(len(self.corpus))
        self.paths = _paths(pages, self.rng)
        self._page_weights = zipf_cumulative(pages)
        self.seen: set[str] = set(self.corpus)
        # The fixed parts of a hit, made once: each page's body (%s: the referrer field) and
        # the head (%d: the body's length, %s: the agent, %s: the forwarding headers).
        self._bodies = {path: self._body(path) for path in self.paths}
        self._hit_head = _head(
            "POST",
            "/api/hit",
            [
                ("Host", HOST),
                ("Connection", "keep-alive"),
                ("Content-Length", "%d"),
                ("User-Agent", "%s"),
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("Accept", "*/*"),
                ("Origin", f"https://{site}"),
                ("Sec-Fetch-Site", "same-site"),
                ("Sec-Fetch-Mode", "no-cors"),
                ("Sec-Fetch-Dest", "empty"),
                ("Referer", f"https://{site}/"),
                ("Accept-Encoding", "gzip, deflate, br, zstd"),
                ("Accept-Language", "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7"),
            ],
        ).replace("\r\n\r\n", "\r\n%s\r\n")

    def _body(self, path: str) -> bytes:
        title = path.rsplit("/", 1)[-1][:-12].replace("-", " ").capitalize() + " - Cổng thông tin"
        url = json.dumps(f"https://{self.site}{path}")
        return (
            f'{{"site":"{self.site}","url":{url}%s,"event":"pageview",'
            f'"title":{json.dumps(title, ensure_ascii=False)}}}'
        ).encode()

    def _agent(self) -> str:
        return self.corpus[self._pick(self._agent_weights)]

    def _page(self) -> str:
        return self.paths[self._pick(self._page_weights)]

    def _pick(self, cumulative: Sequence[float]) -> int:
        return min(bisect(cumulative, self.rng.random() * cumulative[-1]), len(cumulative) - 1)

    def _unseen(self, agent: str) -> str:
        """A release of ``agent`` (else of another corpus agent) that was never sent."""
        base = agent
        for attempt in range(50):
            moved = variant(base, self.rng)
            if moved is not None and moved not in self.seen:
                self.seen.add(moved)
                return moved
            if attempt % 5 == 4:
                base = self._agent()
        raise RuntimeError("no unseen variant found")

    def hit_request(self, agent: str, address: str, path: str, referrer: str | None) -> bytes:
        """One ``POST /api/hit`` as the snippet's ``sendBeacon`` sends it (referrer None: a
        page of the site, "": none)."""
        if referrer is None:
            referrer = f"https://{self.site}{self._page()}"
        body = self._bodies[path] % (f',"referrer":"{referrer}"' if referrer else "").encode()
        forwarded = (
            f"X-Forwarded-For: {address}\r\nX-Forwarded-Proto: https\r\n" if self.forwarded else ""
        )
        head = self._hit_head % (len(body), agent, forwarded)
        return head.encode() + body

    def warmup(self, copies: int = 2) -> list[bytes]:
        """Every corpus agent ``copies`` times (so each worker's cache has met the common ones),
        shuffled; the pageviews of some already seen visitors."""
        requests = [
            self.hit_request(agent, _address(self.rng), self._page(), "")
            for agent in self.corpus
            for _ in range(copies)
        ]
        self.rng.shuffle(requests)
        return requests

    def hits(self, count: int) -> tuple[list[bytes], PoolFacts]:
        """``count`` hits: the visitors of the mix, half of the distinct agents unseen."""
        visitors: list[list[str]] = []  # [agent, address]
        views: list[int] = []  # the visitor of each hit
        addresses: list[str] = []
        while len(views) < count:
            if addresses and self.rng.random() < 0.2:
                address = self.rng.choice(addresses)
            else:
                address = _address(self.rng)
                addresses.append(address)
            visitors.append([self._agent(), address])
            pageviews = min(20, 1 + int(self.rng.expovariate(1 / 1.5)))
            views.extend([len(visitors) - 1] * pageviews)
        del views[count:]
        visitors = visitors[: views[-1] + 1]
        # Give visitors, in random order, agents never sent, until the unseen agents are as
        # many as the corpus agents still in the pool: half of the distinct agents.
        known = Counter(agent for agent, _ in visitors)
        unseen = 0
        for index in self.rng.sample(range(len(visitors)), len(visitors)):
            if unseen >= len(known):
                break
            agent = visitors[index][0]
            known[agent] -= 1
            if not known[agent]:
                del known[agent]
            visitors[index][0] = self._unseen(agent)
            unseen += 1
        self.rng.shuffle(views)
        pages = [self._page() for _ in views]
        requests = [
            self.hit_request(visitors[v][0], visitors[v][1], page, self._referrer())
            for v, page in zip(views, pages, strict=True)
        ]
        unseen_agents = {a for a, _ in visitors} - set(self.corpus)
        facts = PoolFacts(
            hits=len(requests),
            visitors=len(visitors),
            distinct_agents=len(known) + unseen,
            unseen_agents=len(unseen_agents),
            unseen_hits=sum(visitors[v][0] in unseen_agents for v in views),
            top_page_share=Counter(pages).most_common(1)[0][1] / len(pages),
        )
        return requests, facts

    def _referrer(self) -> str | None:
        roll = self.rng.random()
        for share, referrer in REFERRERS:
            if roll < share:
                return referrer
            roll -= share
        return ""

    def stats(self, count: int) -> list[bytes]:
        """``count`` reads of a page's box (``GET /api/stats?site=…&url=…``), pages by Zipf,
        with the agents of the corpus."""
        requests = []
        for _ in range(count):
            path = self._page()
            target = f"/api/stats?site={self.site}&url={path}"
            headers = [
                ("Host", HOST),
                ("Connection", "keep-alive"),
                ("User-Agent", self._agent()),
                ("Accept", "*/*"),
                ("Origin", f"https://{self.site}"),
                ("Sec-Fetch-Site", "same-site"),
                ("Sec-Fetch-Mode", "cors"),
                ("Sec-Fetch-Dest", "empty"),
                ("Referer", f"https://{self.site}/"),
                ("Accept-Encoding", "gzip, deflate, br, zstd"),
                ("Accept-Language", "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7"),
            ]
            requests.append(_request("GET", target, headers, b""))
        return requests


def _head(method: str, target: str, headers: list[tuple[str, str]]) -> str:
    return f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


def _request(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    return _head(method, target, headers).encode() + body


def write_requests(path: Path, requests: Iterable[bytes]) -> Path:
    """The file bench/pool.lua and bench/rate.py read: each request as a decimal length line,
    then its bytes."""
    with path.open("wb") as out:
        for request in requests:
            out.write(b"%d\n" % len(request))
            out.write(request)
    return path
