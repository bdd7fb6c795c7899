"""The source distribution: built from this tree, it carries its metadata and a test suite that runs."""

from __future__ import annotations

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
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only"],
        cwd=str(sdist), capture_output=True, text=True, timeout=120, env=env,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert "error" not in collected.stdout.splitlines()[-1], collected.stdout[-3000:]
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_events.py", "tests/test_readme.py::test_the_files_and_commands_the_readme_names_exist",
         "tests/test_samples.py::test_hello_prints_the_reply_from_the_embedded_simulator"],
        cwd=str(sdist), capture_output=True, text=True, timeout=300, env=env,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
