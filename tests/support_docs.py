"""Helpers for the tests of the samples, the command line, the notebook and the README.

They run the real programs in subprocesses (with the interpreter running the
tests), without an OpenAI key, so each one talks to a simulator.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

__all__ = ["ROOT", "SAMPLES", "clean_env", "run_python", "xvfb_display", "NoDisplay"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment for a subprocess: no API key, no server URL, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_SYNC_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def run_python(
    args: Sequence[str],
    *,
    timeout: float = 60.0,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
    stdin: Optional[str] = None,
) -> "subprocess.CompletedProcess[str]":
    """Run ``python ARGS`` to completion and return the result (text mode).

    Raises:
        subprocess.TimeoutExpired: the program did not end within ``timeout`` seconds.
    """
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else clean_env(),
        cwd=str(cwd or ROOT),
    )


def end_process(process: "subprocess.Popen[Any]", *readers: threading.Thread) -> None:
    """Kill ``process`` if it still runs, reap it, let ``readers`` of its output finish, close its pipes."""
    if process.poll() is None:
        process.kill()
        process.wait()
    for reader in readers:
        reader.join(timeout=10)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


class NoDisplay(Exception):
    """Xvfb is missing or did not start; the message says why."""


@contextlib.contextmanager
def xvfb_display(timeout: float = 30.0) -> Iterator[str]:
    """Run Xvfb on a free display number (it picks one, ``-displayfd``) and yield ``":N"``.

    Raises:
        NoDisplay: Xvfb is not installed or reported no display within ``timeout`` seconds.
    """
    if shutil.which("Xvfb") is None:
        raise NoDisplay("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], timeout)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            raise NoDisplay("Xvfb reported no display number within %g s" % timeout)
        yield ":" + number
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
