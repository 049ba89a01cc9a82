"""The web-archive source: a crawl delivered as WARC files, the way crawlers actually store it.

Every page is real HTML around a demo text: navigation, a cookie banner, a byline,
"related posts" and sometimes a comment thread, so the quick start shows main-content
extraction at work. Some pages carry a text-and-data-mining reservation (each signal
curaline.web.rights detects), and a few records are broken the ways crawls break: a 404,
an image, a truncated record, a response without an HTTP status line, binary bytes
labelled as HTML. The ground truth names each, with the doc id ingestion will compute.
"""

from __future__ import annotations

import datetime as dt
import html
import random

from curaline.demo import compose
from curaline.demo import textbank as tb
from curaline.demo.model import Row, SourcePlan, scaled
from curaline.demo.sources import OWNER, Shared
from curaline.web.warcfile import Record, http_response

SID = "web-archive"
PERIOD = (dt.date(2024, 2, 5), dt.date(2024, 2, 27))
CRAWLER = "curaline-demo-archiver/1.0"
#: The reservation signals, in turn: (HTTP headers, <head> markup, the evidence curaline records)
RESERVATIONS = [
    ([("tdm-reservation", "1"), ("tdm-policy", "https://{host}/tdm-policy.json")], "",
     "header:tdm-reservation=1"),
    ([], '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://{host}/tdm-policy.json">',
     "meta:tdm-reservation=1"),
    ([("X-Robots-Tag", "noai")], "", "header:x-robots-tag=noai"),
    ([], '<meta name="robots" content="index, follow, noai, noimageai">', "meta:robots=noai; meta:robots=noimageai"),
]  # fmt: skip
COMMENTERS = ["river_fox", "mhartley", "bookworm42", "Aunt Jo", "pixelgardener"]
COMMENTS = [
    "Thanks for writing this up, it helped a lot.", "We went last spring and loved it.",
    "Does anyone know if this still works with the newer model?", "Great read, bookmarked for later.",
]  # fmt: skip


def page_html(rng: random.Random, site: str, title: str, text: str, head: str, comments: bool) -> bytes:
    """A page as a small site would serve it: boilerplate around the article."""
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
    related = "".join(f'<li><a href="/post-{rng.randint(100, 999)}">{html.escape(t)}</a></li>'
                      for t in rng.sample(["Ten tips for a quiet weekend", "Our readers' favourite recipes",
                                           "What changed in town this year", "A beginner's guide to repairs",
                                           "Photos from the spring market"], k=3))  # fmt: skip
    thread = ""
    if comments:
        items = "".join(f'<div class="comment"><span class="comment-author">{html.escape(n)}</span>'
                        f'<p>{html.escape(rng.choice(COMMENTS))}</p></div>' for n in rng.sample(COMMENTERS, k=3))  # fmt: skip
        thread = f'<section id="comments" class="comments"><h2>3 comments</h2>{items}<form id="respond">' \
                 '<textarea name="comment"></textarea><button>Post comment</button></form></section>'
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | {site}</title>'
        f'<meta name="viewport" content="width=device-width">{head}</head><body>'
        f'<header><a class="logo" href="/">{site}</a><nav><a href="/">Home</a> <a href="/news">News</a> '
        f'<a href="/about">About</a> <a href="/contact">Contact</a></nav></header>'
        '<div class="cookie-banner">We use cookies to make this site work. <button>Accept all</button></div>'
        f'<main><article><h1>{html.escape(title)}</h1><p class="byline">By the {site} team</p>{paras}</article>'
        f'<aside class="related"><h2>Related posts</h2><ul>{related}</ul></aside>{thread}</main>'
        f'<footer><p>&copy; 2024 {site}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>'
        "</body></html>"
    ).encode()


def web_archive(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    guard = shared.page_guard  # shared with web-crawl: no page here near-duplicates one there
    seconds = (PERIOD[1] - PERIOD[0]).days * 86_400

    def when() -> str:
        moment = dt.datetime.combine(PERIOD[0], dt.time()) + dt.timedelta(seconds=rng.randint(0, seconds))
        return moment.isoformat() + "Z"

    rows: list[Row] = []
    for n in range(scaled(60, scale, 12)):
        site = rng.choice(tb.WEBSITES)
        host = f"www.{site}.example"
        title, text = compose.web_page(rng, "en", guard)
        url = f"https://{host}/{n:04d}-" + "-".join("".join(c for c in w.lower() if c.isalnum()) for w in title.split()[:5])
        headers, head, evidence = [("Content-Type", "text/html; charset=utf-8")], "", None
        if n % 6 == 1:  # one page in six reserves text and data mining, each signal in turn
            extra, head, evidence = RESERVATIONS[(n // 6) % len(RESERVATIONS)]
            headers += [(k, v.format(host=host)) for k, v in extra]
            head = head.format(host=host)
        body = page_html(rng, site, title, text, head, comments=n % 4 == 2)
        row = Row(SID, raw=Record(url, when(), http_response(200, headers, body)).to_bytes())
        if evidence:
            row.plant("tdm_reserved", evidence=evidence, url=url)
        rows.append(row)
    broken = [  # (case = the quarantine reason ingestion gives, record)
        ("http_status", Record("https://www.greenplot.example/old-page", when(),
                               http_response(404, [("Content-Type", "text/html")], b"<html><body>Not found</body></html>"))),
        ("not_html", Record("https://www.homecraft.example/logo.png", when(),
                            http_response(200, [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n" + bytes(48)))),
        ("truncated_record", Record("https://www.wanderlog.example/long-read", when(),
                                    http_response(200, [("Content-Type", "text/html")], b"<html><body><p>The first part"),
                                    extra_headers=[("WARC-Truncated", "length")])),
        ("malformed_record", Record("https://www.slowdays.example/odd", when(), b"<html>no HTTP response here</html>")),
        ("undecodable_bytes", Record("https://www.gadgetbench.example/firmware", when(),
                                     http_response(200, [("Content-Type", "text/html; charset=utf-8")],
                                                   b"<html>\x00\x01\x02\x03\xff\xfe firmware image</html>"))),
    ]  # fmt: skip
    for case, record in broken:
        rows.insert(rng.randrange(len(rows) + 1), Row(SID, raw=record.to_bytes()).plant(case, reason=case))
    manifest = {
        "id": SID,
        "description": "A small site-archive crawl delivered as WARC files: whole pages with their HTTP headers.",
        "location": f"../corpus/{SID}/*.warc.gz",
        "format": "warc",
        "kind": "document",
        "license": "ODC-By-1.0",
        "license_url": "https://opendatacommons.org/licenses/by/1-0/",
        "obtained": "web-crawl",
        "crawl": {
            "crawler": CRAWLER,
            "user_agent": f"{CRAWLER} (+https://example.com/crawler)",
            "respects_robots_txt": True,
            "tdm_opt_out": "honoured",
            "period_start": PERIOD[0],
            "period_end": PERIOD[1],
        },
        "legal_basis": "EU DSM Directive Art. 4 text-and-data-mining exception (reservations honoured per page)",
        "personal_data": "unknown",
        "domain": "web",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 3, 1),
        "priority": 0,
    }
    half = len(rows) // 2
    return SourcePlan(manifest, {"archive-000.warc.gz": rows[:half], "archive-001.warc.gz": rows[half:]})
