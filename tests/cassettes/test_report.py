"""`mockinfer cassette report`: one page for a folder, offline, read by a real browser."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mockinfer.cassette.format import read, write
from mockinfer.cassette.report import render
from mockinfer.cli import main
from tests.cassettes.test_cassette_commands import planted_cassette

EXAMPLES = Path(__file__).resolve().parents[2] / "cassettes"
#: Where the browser's screenshot of the page is kept for people to look at.
ARTEFACTS = Path(__file__).resolve().parents[2] / ".artefacts"


class _Page(HTMLParser):
    """What a page holds that the tests look at: its timelines and anything fetched."""

    def __init__(self) -> None:
        super().__init__()
        self.timelines = 0
        self.fetched: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and found.get("class") == "timeline":
            self.timelines += 1
        if tag in ("script", "link", "img", "iframe") or "src" in found:
            self.fetched.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def streams_in(folder: Path) -> int:
    count = 0
    for path in folder.glob("*.yaml"):
        data = read(path)
        count += sum(1 for i in data.interactions if i.response.events) if data else 0
    return count


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The shipped examples, a cassette with a planted secret and a hostile file name."""
    shutil.copytree(EXAMPLES, tmp_path / "cassettes")
    write(tmp_path / "cassettes" / "<b>leaky</b>.yaml", planted_cassette())
    return tmp_path / "cassettes"


def test_the_page_holds_every_cassette_and_a_timeline_per_stream(folder: Path) -> None:
    report = render(folder)
    page = _Page()
    page.feed(report.page)
    assert page.timelines == streams_in(folder) == 2
    assert page.fetched == []  # self-contained: nothing to fetch
    text = "".join(page.text)
    assert "<b>leaky</b>.yaml" in text and "<b>leaky" not in report.page
    assert "PLANTED" not in report.page
    assert report.credentials > 0 and "possible credentials:" in text
    for name in ("completion_stream.yaml", "rerank.yaml", "text_embedding.yaml"):
        assert name in text


def test_the_command_writes_the_page_and_says_what_it_found(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    assert main(["cassette", "report", str(EXAMPLES), "--html", str(out)]) == 0
    assert main(["cassette", "report", str(folder), "--html", str(out)]) == 1
    (folder / "broken.yaml").write_text("interactions: [\n")
    assert main(["cassette", "report", str(folder), "--html", str(out)]) == 2
    assert "is not valid YAML" in out.read_text()
    assert main(["cassette", "report", str(tmp_path / "none"), "--html", str(out)]) == 2


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed from the system's packages when it is not there yet."""
    found = shutil.which("chromium")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
            subprocess.run(install, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium is not installed and cannot be installed here (apt-get as root)")
    return found


def test_a_real_browser_shows_one_timeline_per_stream(
    folder: Path, tmp_path: Path, chromium: str
) -> None:
    out = tmp_path / "report.html"
    main(["cassette", "report", str(folder), "--html", str(out)])
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*browser, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    rendered = _Page()
    rendered.feed(dom)
    assert rendered.timelines == streams_in(folder)
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "cassette-report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [*browser, "--window-size=1100,900", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 900)
    assert len(png) > 20_000  # tables, text and timelines, not a blank page
