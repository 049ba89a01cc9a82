"""URL filters: plain and UT1 lists, per-list reasons, allow-list overrides, bad lists refused."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from curaline.records import make_doc_id, own_key
from curaline.web.urlfilter import UrlFilterConfig, filter_urls, load_filters, url_key

URLS = [
    "https://www.casino.example/slots?x=1",  # domains list (www. and subdomains too)
    "http://deep.sub.casino.example/",
    "https://news.example/politics/2024/story",  # urls list, prefix at a path boundary
    "https://news.example/politicsfan",  # NOT under news.example/politics/
    "https://shop.example/cart?session=abc",  # regex
    "https://adult-site.example/video",  # UT1 adult domains
    "https://mixed.example/porn/page.html",  # UT1 adult urls
    "https://ok.example/about",
    "https://friends.casino.example/blog",  # blocked domain, but on the allow-list
    None,
]


def project_lists(root: Path) -> UrlFilterConfig:
    (root / "lists").mkdir()
    (root / "lists" / "gambling.txt").write_text("# gambling sites\ncasino.example\n\nbet.example  # sports\n")
    (root / "lists" / "news-sections.txt").write_text("news.example/politics\n")
    (root / "lists" / "tracking.txt").write_text(r"[?&]session=" + "\n")
    (root / "lists" / "allow.txt").write_text("friends.casino.example\n")
    ut1 = root / "blacklists"
    for cat, domains, urls in (("adult", "adult-site.example\n", "mixed.example/porn\n"),
                               ("malware", "bad.example\n", "")):  # fmt: skip
        (ut1 / cat).mkdir(parents=True)
        (ut1 / cat / "domains").write_text(domains)
        (ut1 / cat / "urls").write_text(urls)
    return UrlFilterConfig(domains=("lists/gambling.txt",), urls=("lists/news-sections.txt",),
                           patterns=("lists/tracking.txt",), ut1=("blacklists",), allow=("lists/allow.txt",))  # fmt: skip


def table(urls: list[str | None]) -> pa.Table:
    ids = [make_doc_id("crawl", own_key(str(i))) for i in range(len(urls))]
    return pa.table({"doc_id": ids, "text": ["page"] * len(urls), "url": pa.array(urls, pa.string())})


def test_url_key() -> None:
    assert url_key("HTTPS://user@WWW.Example.com:8080/A/b?c=1") == ("example.com", "example.com/a/b?c=1")
    assert url_key("example.com") == ("example.com", "example.com")


def test_blocklists_drop_with_their_own_reason_and_the_allow_list_overrides(tmp_path: Path) -> None:
    filters = load_filters(tmp_path, project_lists(tmp_path))
    t = table(URLS)
    result = filter_urls(t, kind="document", config=filters)
    kept = [u for u, k in zip(URLS, result.keep, strict=True) if k]
    assert kept == ["https://news.example/politicsfan", "https://ok.example/about",
                    "https://friends.casino.example/blog", None]  # fmt: skip
    events = {e["doc_id"]: (e["reason"], e["detail"]) for e in result.events.to_pylist()}
    ids = t["doc_id"].to_pylist()
    assert events[ids[0]] == ("url_blocklist:gambling", "gambling=casino.example")
    assert events[ids[1]] == ("url_blocklist:gambling", "gambling=casino.example")
    assert events[ids[2]] == ("url_blocklist:news-sections", "news-sections=news.example/politics")
    assert events[ids[4]] == ("url_blocklist:tracking", "tracking=[?&]session=")
    assert events[ids[5]] == ("url_blocklist:ut1/adult", "ut1/adult=adult-site.example")
    assert events[ids[6]] == ("url_blocklist:ut1/adult", "ut1/adult=mixed.example/porn")
    assert result.table["url_list_hits"].to_pylist()[8] == 1  # matched, yet kept: allow-listed
    assert "ut1/malware (1)" in repr(filters)


def test_ut1_categories_select_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    config = project_lists(tmp_path)
    only = load_filters(tmp_path, UrlFilterConfig(ut1=config.ut1, ut1_categories=("malware",)))
    assert [b.name for b in only.lists] == ["ut1/malware"]
    with pytest.raises(ValueError, match="ut1_categories: gambling not in blacklists"):
        load_filters(tmp_path, UrlFilterConfig(ut1=config.ut1, ut1_categories=("gambling",)))


def test_missing_list_and_bad_regex_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"stages.url_filtered.domains: 'nope.txt' does not exist"):
        load_filters(tmp_path, UrlFilterConfig(domains=("nope.txt",)))
    (tmp_path / "bad.txt").write_text("fine\n(unclosed\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: not a regular expression"):
        load_filters(tmp_path, UrlFilterConfig(patterns=("bad.txt",)))


def test_records_without_urls_and_empty_filters_pass(tmp_path: Path) -> None:
    t = pa.table({"doc_id": [make_doc_id("s", own_key("1"))], "prompt": ["hi"]})
    result = filter_urls(t, kind="instruction", config=load_filters(tmp_path, project_lists(tmp_path)))
    assert result.keep.tolist() == [True] and result.events.num_rows == 0
    result = filter_urls(table(URLS), kind="document", config=load_filters(tmp_path, UrlFilterConfig()))
    assert result.keep.all() and result.table["url_list_hits"].to_pylist() == [0] * len(URLS)


def test_a_changed_list_changes_the_shard_key(tmp_path: Path) -> None:
    """The shard engine skips a committed shard whose key is unchanged: a list edited to other
    entries of the same size (the same repr) must still rerun it."""
    from curaline.project import IngestConfig
    from curaline.shards.phase import chain_fingerprint
    from curaline.shards.runner import ChainStage

    (tmp_path / "blocked.txt").write_text("a.example\n")
    config = UrlFilterConfig(domains=("blocked.txt",))

    def key() -> tuple[str, str]:
        filters = load_filters(tmp_path, config)
        return repr(filters), chain_fingerprint([ChainStage("url_filtered", filter_urls, filters)], IngestConfig(), ())

    first = key()
    assert key() == first
    (tmp_path / "blocked.txt").write_text("b.example\n")
    second = key()
    assert second[0] == first[0] and second[1] != first[1]
