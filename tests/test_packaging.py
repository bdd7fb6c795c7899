"""The source distribution: built from this tree, it carries its metadata and a test suite that runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from email.parser import Parser
from pathlib import Path
from typing import Iterator, List

import pytest
from support_docs import ROOT, clean_env


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sdist of this tree, unpacked; built from a copy so the tree gets no egg-info."""
    pytest.importorskip("setuptools")
    work = tmp_path_factory.mktemp("sdist")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=str(ROOT), capture_output=True, check=False,
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: %s" % tracked.stderr.decode(errors="replace").strip())
    source = work / "source"
    for name in filter(None, tracked.stdout.decode().split("\0")):
        path = ROOT / name
        if path.is_file():
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(work / "dist")],
        cwd=str(source), capture_output=True, text=True, timeout=120, env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    (archive,) = (work / "dist").glob("realtime_sync-*.tar.gz")
    with tarfile.open(str(archive)) as tar:
        members: List[str] = tar.getnames()
        if hasattr(tarfile, "data_filter"):  # Python 3.12 and the security releases before it
            tar.extractall(str(work / "unpacked"), filter="data")
        else:
            tar.extractall(str(work / "unpacked"))
    (top,) = {name.split("/")[0] for name in members}
    yield work / "unpacked" / top


def test_the_sdist_has_the_metadata(sdist: Path) -> None:
    info = Parser().parsestr((sdist / "PKG-INFO").read_text(encoding="utf-8"))
    assert info["Author"] == "The realtime_sync developers"
    urls = info.get_all("Project-URL") or []
    assert len(urls) >= 2 and all(", https://" in url for url in urls), urls
    assert info["Requires-Python"] == ">=3.9"
    assert (sdist / "realtime_sync" / "py.typed").exists()
    assert (sdist / "realtime_sync" / "cli" / "__init__.py").exists()


def test_the_sdist_ships_a_runnable_test_suite(sdist: Path) -> None:
    for needed in ("tests/conftest.py", "tests/support_docs.py", "README.md", "samples/hello.py", "Makefile"):
        assert (sdist / needed).exists(), needed
    shipped = {p.name for p in (sdist / "tests").glob("*.py")}
    ours = {p.name for p in (ROOT / "tests").glob("*.py")}
    assert ours <= shipped, sorted(ours - shipped)
    env = clean_env()
    probe = subprocess.run(
        [sys.executable, "-c", "import realtime_sync; print(realtime_sync.__file__)"],
        cwd=str(sdist), capture_output=True, text=True, timeout=60, env=env,
    )
    assert Path(probe.stdout.strip()).resolve().is_relative_to(sdist.resolve()), probe.stdout
    # One run collects the whole shipped suite (an import error anywhere fails it) and runs a few of its tests.
    chosen = [
        "test_events.py",
        "test_the_files_and_commands_the_readme_names_exist",
        "test_hello_prints_the_reply_from_the_embedded_simulator",
    ]
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", " or ".join(chosen)],
        cwd=str(sdist), capture_output=True, text=True, timeout=300, env=env,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    summary = ran.stdout.splitlines()[-1]
    assert re.search(r"^\d\d+ passed, \d{3,} deselected in ", summary), ran.stdout[-3000:]


# -- make test and the audio extra ----------------------------------------------------

FAKE_PYTHON = """#!/bin/sh
# a stand-in for .venv/bin/python: logs its arguments; pyaudio imports once "installed"
echo "$*" >> "$FAKE_STATE/calls"
if [ "$1" = "-c" ]; then [ -f "$FAKE_STATE/pyaudio" ]; exit; fi
case "$*" in *" install "*)
  if [ -f "$FAKE_STATE/build-fails" ]; then echo "gcc: error: 15 lines of it"; exit 1; fi
  touch "$FAKE_STATE/pyaudio";;
esac
exit 0
"""

FAKE_PKG_CONFIG = """#!/bin/sh
[ -f "$FAKE_STATE/portaudio" ]
"""


class FakeMachine:
    """A fake venv and a fake pkg-config on PATH, to run the Makefile's audio step for real."""

    def __init__(self, root: Path) -> None:
        import shutil

        if shutil.which("make") is None:
            pytest.skip("make is not installed")
        self.state = root / "state"
        self.venv = root / "venv"
        bin_dir = root / "bin"
        for folder in (self.state, self.venv / "bin", bin_dir):
            folder.mkdir(parents=True)
        for path, text in ((self.venv / "bin" / "python", FAKE_PYTHON), (bin_dir / "pkg-config", FAKE_PKG_CONFIG)):
            path.write_text(text)
            path.chmod(0o755)
        (self.venv / ".test-installed").touch()  # newer than setup.cfg and setup.py: the test extra is in
        self.env = clean_env(FAKE_STATE=str(self.state), PATH="%s:%s" % (bin_dir, clean_env()["PATH"]))

    def make_audio_step(self) -> "tuple[list[str], list[str]]":
        """Run `make audio-extra` (the step `make test` runs first); return its output lines and the pip calls."""
        calls = self.state / "calls"
        if calls.exists():
            calls.unlink()
        result = subprocess.run(
            ["make", "-s", "--no-print-directory", "audio-extra", "VENV=%s" % self.venv,
             "PORTAUDIO_HEADERS=%s" % (self.state / "portaudio.h")],
            cwd=str(ROOT), capture_output=True, text=True, timeout=60, env=self.env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        pip = [line for line in (calls.read_text().splitlines() if calls.exists() else []) if " pip " in " %s " % line]
        return result.stdout.splitlines() + result.stderr.splitlines(), pip


def test_make_test_says_in_one_line_that_portaudio_is_missing_then_installs_audio_once_it_is_there(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path)
    lines, pip = machine.make_audio_step()
    assert pip == []  # no doomed build of pyaudio
    assert len(lines) == 1, lines
    assert "PortAudio is missing" in lines[0] and "apt-get install portaudio19-dev" in lines[0]
    assert "brew install portaudio" in lines[0] and "make test again" in lines[0]

    (machine.state / "portaudio").touch()  # apt-get install portaudio19-dev
    lines, pip = machine.make_audio_step()  # the next `make test`, without `make clean`
    assert len(pip) == 1 and pip[0].endswith("install -e .[audio]"), pip
    assert lines == ["installed the audio extra (pyaudio) into %s" % machine.venv]

    lines, pip = machine.make_audio_step()  # and after that, nothing to do
    assert lines == [] and pip == []


def test_make_test_finds_portaudio_by_its_header_and_reports_a_failed_build_in_one_line(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path)
    (machine.state / "portaudio.h").touch()  # no pkg-config entry, but the header is there
    (machine.state / "build-fails").touch()
    lines, pip = machine.make_audio_step()
    assert len(pip) == 1
    assert len(lines) == 1 and "pyaudio did not build" in lines[0] and "audio-install.log" in lines[0], lines
    assert "gcc" in (machine.venv / "audio-install.log").read_text()
    (machine.state / "build-fails").unlink()
    lines, pip = machine.make_audio_step()  # retried on the next run
    assert len(pip) == 1 and lines[0].startswith("installed the audio extra")
