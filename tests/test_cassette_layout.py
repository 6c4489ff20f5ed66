"""The readable layout of JSON bodies in cassettes is exactly reversible."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.cassette.layout import compact, expand, lay_out

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_layout_round_trips_to_the_exact_bytes(value: Any) -> None:
    wire = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    laid_out = expand(wire)
    assert compact(laid_out) == wire
    assert json.loads(laid_out) == json.loads(wire)
    assert lay_out(wire) == (laid_out if wire[0] in "{[" else None)


def test_vectors_stay_on_one_line_and_members_get_their_own() -> None:
    wire = '{"text_embedding":[{"embedding":[0.1,-0.2,3]}],"note":"a, b: {c}"}'
    assert expand(wire).splitlines() == [
        "{",
        '  "text_embedding": [',
        "    {",
        '      "embedding": [0.1, -0.2, 3]',
        "    }",
        "  ],",
        '  "note": "a, b: {c}"',
        "}",
    ]


def test_arrays_of_text_stay_on_one_line_and_empty_containers_stay_closed() -> None:
    wire = '{"tags":["a,b","c"],"empty":{},"none":[],"rows":[[1,2],{}]}'
    assert expand(wire).splitlines() == [
        "{",
        '  "tags": ["a,b", "c"],',
        '  "empty": {},',
        '  "none": [],',
        '  "rows": [',
        "    [1, 2],",
        "    {}",
        "  ]",
        "}",
    ]


def test_spaced_or_unclosed_json_and_scalars_are_not_laid_out() -> None:
    assert lay_out('{"a": 1}') is None
    assert lay_out("data: [DONE]") is None
    assert lay_out('"text"') is None
    # A string left open would let whitespace be read as structure: never laid out.
    assert lay_out('{"a":"b}') is None


def test_a_vector_of_thousands_of_numbers_is_one_line() -> None:
    vector = [i / 7 for i in range(3000)]
    wire = json.dumps({"embedding": vector}, separators=(",", ":"))
    laid_out = lay_out(wire)
    assert laid_out is not None
    assert len(laid_out.splitlines()) == 3
    assert compact(laid_out) == wire


def test_a_deeply_nested_body_is_stored_as_received() -> None:
    deep = '{"a":[1,' * 5000 + "1" + "]}" * 5000
    assert lay_out(deep) is None
    shallow = '{"a":[1,' * 10 + "1" + "]}" * 10
    assert lay_out(shallow) is not None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}",:\\ 0123456789.-eatrufnl\n\t', max_size=40))
def test_any_text_is_laid_out_only_when_compacting_gives_it_back(text: str) -> None:
    laid_out = lay_out(text)
    assert laid_out is None or compact(laid_out) == text
