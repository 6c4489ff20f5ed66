"""The quick reader gives exactly what PyYAML gives, or declines and leaves the text to it."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockinfer.cassette import scan
from mockinfer.cassette.emit import dump
from mockinfer.cassette.format import loads
from tests.cassettes.test_emit import EXAMPLES, text, values

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def comparable(value: Any) -> Any:
    """NaN equal to itself, so documents compare by what they hold."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def agrees_with_pyyaml(document_text: str) -> bool:
    """Whether the quick reader took the text; when it did, it read what PyYAML reads."""
    try:
        quick = scan.load(document_text)
    except scan.Unsupported:
        return False
    assert comparable(quick) == comparable(yaml.load(document_text, Loader=_Loader))
    return True


def mutated(document_text: str, rng: random.Random) -> str:
    lines = document_text.split("\n")
    index = rng.randrange(len(lines))
    change = rng.randrange(5)
    if change == 0:
        del lines[index]
    elif change == 1:
        lines[index] = " " + lines[index]
    elif change == 2:
        lines[index] = lines[index][1:]
    elif change == 3:
        lines.insert(index, "")
    else:
        lines[index] += rng.choice([" ", ":", " #x", "'", '"', "\t", "- a", " &a", "\r"])
    return "\n".join(lines)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(text, values, min_size=1, max_size=4), st.randoms())
def test_what_the_writer_writes_or_breaks_is_read_as_pyyaml_reads_it(
    document: dict[str, Any], rng: random.Random
) -> None:
    written = dump(document)
    agrees_with_pyyaml(written)
    for _ in range(3):
        broken = mutated(written, rng)
        try:
            yaml.load(broken, Loader=_Loader)
        except yaml.YAMLError:
            with pytest.raises(scan.Unsupported):
                scan.load(broken)
        else:
            agrees_with_pyyaml(broken)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_cassettes_take_the_quick_path(path: Path) -> None:
    assert agrees_with_pyyaml(path.read_text(encoding="utf-8"))


def test_long_stream_bodies_folded_by_the_writer_are_read_back() -> None:
    rng = random.Random(3)
    parts = ["\ufeffevent: message", 'data: {"a":"b"}', " ", "  ", "\\", '"', "\t", "\x85"]
    for _ in range(40):
        body = "".join(rng.choice(parts) for _ in range(rng.randrange(500, 3000)))
        written = dump({"response": {"body": {"string": body}}, "version": 1})
        assert agrees_with_pyyaml(written)


@pytest.mark.parametrize(
    "document_text",
    [
        "a: &x [1]\nb: *x\n",
        "a: !!python/object:os.system x\n",
        "a: b\r\nc: d\r\n",
        "a: 'unclosed\n",
        "? complex\n: key\n",
        "a: b # comment\n",
        "a:\n\tb: c\n",
        "a: 0755\n",
        "a: yes\n",
        'a: "\\U00110000"\n',
        'a: "\\ud800"\n',
        'a: "x\n--- y"\n',
        'a: "x\n...\n"\n',
        "a: |\n  \tx\n",
        "a: |\n  x",
        "".join("  " * i + "k:\n" for i in range(600)) + "  " * 600 + "k: v\n",
    ],
    ids=[
        "alias",
        "tag",
        "crlf",
        "unclosed",
        "complex-key",
        "comment",
        "tab",
        "octal",
        "yes",
        "beyond-unicode",
        "surrogate",
        "marker-in-quotes",
        "end-in-quotes",
        "tab-indent",
        "no-final-break",
        "deep",
    ],
)
def test_anything_else_is_left_to_pyyaml(document_text: str) -> None:
    with pytest.raises(scan.Unsupported):
        scan.load(document_text)


def test_a_cassette_in_another_style_still_loads(tmp_path: Path) -> None:
    # vcrpy writes with PyYAML's default width: long text is folded plain text.
    interaction = {
        "request": {"body": "x " * 60, "headers": {}, "method": "POST", "uri": "http://h/x"},
        "response": {"body": {"string": "ok"}, "headers": {}, "status": {"code": 200}},
    }
    document_text = yaml.safe_dump({"interactions": [interaction], "version": 1}, width=40)
    with pytest.raises(scan.Unsupported):
        scan.load(document_text)
    loaded = loads(document_text, tmp_path / "vcr.yaml")
    assert loaded.interactions[0].request.body == ("x " * 60).encode()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF) | st.sampled_from("\u2028\ufeff")))
def test_characters_pyyaml_reads_differently_are_found_in_ascii_and_other_text(
    document_text: str,
) -> None:
    expected = scan._OUTSIDE.search(document_text) is not None
    assert scan._has_outside_characters(document_text) is expected
    assert scan._has_outside_characters(document_text + "a") is expected
