"""`--mockinfer-prune`: dropping from cassettes what a whole run never played."""

from __future__ import annotations

from pathlib import Path

import pytest


class Pruner:
    """`--mockinfer-prune`: the plays of a run, and the pruning once it ended whole."""

    def __init__(self) -> None:
        #: Per cassette file, the positions of the interactions played.
        self.played: dict[Path, set[int]] = {}
        #: Tests left out (`-k`, `-m`), skipped or xfailed: their plays may be missing.
        self.unfinished = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.unfinished += len(items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and report.when in ("setup", "call"):
            self.unfinished += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus != 0 or self.unfinished:
            why = (
                f"{self.unfinished} test(s) were left out, skipped or xfailed"
                if self.unfinished
                else "it failed"
            )
            lines = [f"mockinfer: nothing pruned: the run was not whole ({why})"]
        else:
            lines = self._prune() or ["mockinfer: nothing to prune: every interaction played"]
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)

    def _prune(self) -> list[str]:
        from mockinfer.cassette.format import CassetteData, read, write

        lines = []
        for path, positions in sorted(self.played.items()):
            data = read(path)
            if data is None or len(positions) == len(data.interactions):
                continue
            kept = [i for n, i in enumerate(data.interactions) if n in positions]
            write(path, CassetteData(kept))
            lines.append(
                f"mockinfer: pruned {len(data.interactions) - len(kept)} unplayed "
                f"interaction(s) from {path}"
            )
        return lines
