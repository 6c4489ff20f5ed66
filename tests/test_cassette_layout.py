"""The readable layout of JSON bodies in cassettes is exactly reversible."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockinfer.cassette.layout import compact, expand, is_compact_json

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
    assert is_compact_json(wire)


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


def test_spaced_or_invalid_json_is_not_laid_out() -> None:
    assert not is_compact_json('{"a": 1}')
    assert not is_compact_json("data: [DONE]")
