"""The cassette writer gives exactly PyYAML's text, for any document and for real cassettes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockinfer.cassette.emit import dump, pyyaml_dump
from mockinfer.cassette.format import dumps, interaction_to_dict, read

EXAMPLES = Path(__file__).resolve().parents[2] / "cassettes"

#: Text that sits on the edges of YAML's styles: indicators, resolver words, breaks, tabs,
#: characters libyaml will not write as they are, and text long enough to fold.
EDGES = [
    "",
    " ",
    "a b",
    "a: b",
    "a #b",
    "a:b",
    "yes",
    "No",
    "NULL",
    "~",
    "1",
    "1.5",
    ".inf",
    "-",
    "- a",
    "?",
    ": a",
    "'",
    '"',
    "{",
    "[",
    "{}",
    "a\n",
    "a\n\n",
    "\n",
    " a\nb",
    "a \nb",
    "a\nb ",
    "a\tb",
    "a\x85b",
    "a\u2028b",
    "\U0001f600",
    "\u00e9",
    "\ufeff",
    "a\x7fb",
    "http://h:9200/_inference/x?timeout=30s&a=%20",
    "x" * 3000,
    "ab " * 1500,
    "ApiKey REDACTED",
    "a\n\nb",
    "&a",
    "*a",
    "!a",
    "%a",
    "@a",
    "`a",
    "|",
    ">",
    "#",
    "a,b",
    "a]",
    "2001-01-01",
    "0x1F",
    "1_000",
    "<<",
    "=",
    "on",
    "OFF",
    '{"input":"it\'s"}',
]
text = st.one_of(
    st.sampled_from(EDGES),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(st.sampled_from("ab {}[]:'\"\n #-,?\u00e9\U0001f600\t"), max_size=30),
)
scalars = st.one_of(
    text, st.none(), st.integers(), st.floats(), st.binary(max_size=20), st.booleans()
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(text, values, max_size=4))
def test_any_document_is_written_as_pyyaml_writes_it(document: dict[str, Any]) -> None:
    written = dump(document)
    assert written == pyyaml_dump(document)
    assert yaml.safe_load(written) == yaml.safe_load(pyyaml_dump(document))


def test_stream_bodies_keep_their_breaks_and_end_the_document() -> None:
    document = {"a": {"string": "event: x\ndata: {}\n\n"}, "b": 1}
    written = dump(document)
    assert written == pyyaml_dump(document)
    assert "  string: |+\n    event: x\n    data: {}\n\n" in written
    assert written.endswith("b: 1\n...\n")


@pytest.mark.parametrize(
    "document",
    [
        {"body": {"string": "R\u00e9sum\u00e9..."}, "headers": {"A": ["1"]}},
        {"string": '{"completion":[{"result":"line one\u2028line two"}]}', "z": 1},
        {"a": "x\n\n", "{k}": "a |"},
    ],
    ids=["ends-in-dots", "line-separator", "bar-after-keep"],
)
def test_text_at_the_edges_of_the_styles_reads_back(document: dict[str, Any]) -> None:
    written = dump(document)
    assert written == pyyaml_dump(document)
    assert yaml.safe_load(written) == document


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_cassettes_are_rewritten_byte_for_byte(path: Path) -> None:
    data = read(path)
    assert data is not None
    document = {"interactions": [interaction_to_dict(i) for i in data.interactions], "version": 1}
    assert dumps(data) == pyyaml_dump(document) == path.read_text(encoding="utf-8")
