"""A journal append that waited past a save never adds the interaction a second time."""

from __future__ import annotations

from pathlib import Path

from mockinfer.cassette import journal
from mockinfer.cassette.format import Interaction, RecordedRequest, RecordedResponse, read
from mockinfer.cassette.store import Cassette


def test_an_interaction_saved_before_its_journal_append_is_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    cassette = Cassette(path, record_mode="new_episodes")
    interaction = Interaction(
        RecordedRequest("POST", "http://h/_inference/completion/l", b'{"input":"x"}'),
        RecordedResponse(200, (), b'{"completion":[{"result":"y"}]}'),
    )
    cassette.add(interaction)
    assert cassette.save() == 1
    cassette.journal(interaction)  # the append that waited for the lock while the save ran
    assert journal.entries(path) == []
    reopened = Cassette(path, record_mode="none")
    assert reopened.interactions == read(path).interactions  # type: ignore[union-attr]
    assert len(reopened.interactions) == 1
