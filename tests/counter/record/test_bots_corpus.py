"""The shipped corpora: every file names its source and licence in the README beside it."""

from __future__ import annotations

from tests.counter.record.corpora import DATA


def test_every_corpus_file_is_described_with_its_source_and_licence() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in DATA.glob("*.txt"):
        assert f"`{path.name}`" in readme, path.name
    for licence in ("Apache-2.0", "MIT"):
        assert licence in readme
