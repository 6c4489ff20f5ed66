"""`mockinfer cassette report`: one self-contained HTML page for a folder of cassettes.

Per cassette: its size, its interactions (method, path, inference id, status, bytes), what
`check` finds in it, and for each stream an SVG timeline of its events. No script, style
sheet or font is fetched: the page opens offline, from a CI artefact as well as a disk.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from mockinfer.cassette.check import Finding, cassette_files, check_file
from mockinfer.cassette.format import CassetteData, CassetteError, RecordedEvent, read
from mockinfer.cassette.tools import rows

#: Width and height of a stream's timeline, in SVG units.
_WIDTH, _HEIGHT = 640, 46
_MARGIN = 10

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1b1f24; }
h1 { font-size: 1.5em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border-bottom: 1px solid #d0d7de; padding: .25em .75em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.clean { color: #1a7f37; } .found, .unreadable { color: #cf222e; }
svg.timeline { display: block; margin: .25em 0 1em; background: #f6f8fa; }
"""


@dataclass(frozen=True)
class _Cassette:
    path: Path
    size: int
    data: CassetteData | None
    findings: list[Finding]
    error: str | None


@dataclass(frozen=True)
class Report:
    """The page, and what it says in figures."""

    page: str
    credentials: int
    unreadable: int


def render(folder: Path) -> Report:
    """The HTML page for every cassette under `folder`."""
    cassettes = [_load(path) for path in cassette_files(folder)]
    total = sum(c.size for c in cassettes)
    interactions = sum(len(c.data.interactions) for c in cassettes if c.data)
    found = sum(len(c.findings) for c in cassettes)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Cassettes in {_text(str(folder))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Cassettes in {_text(str(folder))}</h1>",
        f"<p>{len(cassettes)} cassette(s), {interactions} interaction(s), {total:,} bytes; "
        f'<span class="{"found" if found else "clean"}">{found} possible credential(s)</span>'
        "</p>",
    ]
    for cassette in cassettes:
        parts += _section(cassette, folder)
    parts.append("</body></html>")
    unreadable = sum(c.data is None for c in cassettes)
    return Report("\n".join(parts) + "\n", found, unreadable)


def _load(path: Path) -> _Cassette:
    size = path.stat().st_size
    try:
        return _Cassette(path, size, read(path), check_file(path), None)
    except CassetteError as exc:
        return _Cassette(path, size, None, [], str(exc))


def _section(cassette: _Cassette, folder: Path) -> list[str]:
    name = _text(str(cassette.path.relative_to(folder)))
    parts = [f"<section><h2>{name}</h2>"]
    if cassette.data is None:
        return [*parts, f'<p class="unreadable">{_text(cassette.error or "")}</p></section>']
    parts.append(f"<p>{cassette.size:,} bytes, {len(cassette.data.interactions)} interaction(s); ")
    if cassette.findings:
        listed = "".join(f"<li>{_text(str(f))}</li>" for f in cassette.findings)
        parts.append(f'<span class="found">possible credentials:</span></p><ul>{listed}</ul>')
    else:
        parts.append('<span class="clean">no credential found</span></p>')
    parts.append(
        "<table><tr><th>#</th><th>method</th><th>path</th><th>inference id</th>"
        "<th>status</th><th>bytes</th><th>events</th><th>duration</th></tr>"
    )
    for row in rows(cassette.data):
        duration = "" if row.duration is None else f"{row.duration:.3f} s"
        parts.append(
            f'<tr><td class="n">{row.number}</td><td>{_text(row.method)}</td>'
            f"<td>{_text(row.path)}</td><td>{_text(row.inference_id)}</td>"
            f'<td class="n">{row.status}</td><td class="n">{row.size:,}</td>'
            f'<td class="n">{"" if row.events is None else row.events}</td>'
            f'<td class="n">{duration}</td></tr>'
        )
    parts.append("</table>")
    for number, interaction in enumerate(cassette.data.interactions):
        events = interaction.response.events
        if events:
            parts.append(f"<p>Stream #{number}: {len(events)} events</p>")
            parts.append(timeline_svg(events))
    parts.append("</section>")
    return parts


def timeline_svg(events: tuple[RecordedEvent, ...]) -> str:
    """A stream's events as ticks on a time axis, the error event in red, with a scale."""
    duration = events[-1].offset or 1.0
    usable = _WIDTH - 2 * _MARGIN
    ticks = []
    for event in events:
        x = _MARGIN + event.offset / duration * usable
        colour = "#cf222e" if b"event: error" in event.raw else "#0969da"
        ticks.append(
            f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="30" stroke="{colour}" '
            f'stroke-width="2"><title>{event.offset * 1000:.1f} ms</title></line>'
        )
    axis = (
        f'<line x1="{_MARGIN}" y1="30" x2="{_WIDTH - _MARGIN}" y2="30" stroke="#57606a"/>'
        f'<text x="{_MARGIN}" y="43" font-size="10">0</text>'
        f'<text x="{_WIDTH - _MARGIN}" y="43" font-size="10" text-anchor="end">'
        f"{duration:.3f} s</text>"
    )
    return (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" '
        f'height="{_HEIGHT}" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="timeline of {len(events)} events">{axis}{"".join(ticks)}</svg>'
    )


def _text(value: str) -> str:
    return html.escape(value, quote=True)
