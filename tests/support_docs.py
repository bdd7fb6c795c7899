"""Helpers for the tests of the samples, the command line, the notebook and the README.

They run the real programs in subprocesses (with the interpreter running the
tests), without an OpenAI key, so each one talks to a simulator.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

__all__ = ["ROOT", "SAMPLES", "clean_env", "run_python", "signal_and_wait", "xvfb_display", "NoDisplay"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment for a subprocess: no API key, no server URL, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "REALTIME_SYNC_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONFAULTHANDLER"] = "1"  # a child that hangs can be made to print every thread's stack (SIGABRT)
    env.update(extra)
    return env


def _signal_masks(pid: int) -> str:
    """The signals ``pid`` blocks and ignores (``/proc/PID/status``, Linux), for a failure message."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return ", ".join(line.strip() for line in status if line.startswith(("SigBlk", "SigIgn")))
    except OSError:
        return "signal masks unknown"


def signal_and_wait(process: "subprocess.Popen[Any]", signum: int, timeout: float = 30.0) -> int:
    """Send ``signum`` to ``process`` and return its exit code once it has ended.

    A child that does not end within ``timeout`` seconds fails the test with
    what it was doing: its signal masks, then every thread's stack (it is sent
    SIGABRT, which ``PYTHONFAULTHANDLER``, set by :func:`clean_env`, turns
    into a dump on its standard error) -- instead of a bare ``TimeoutExpired``.
    """
    import pytest

    process.send_signal(signum)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        masks = _signal_masks(process.pid)
        process.send_signal(signal.SIGABRT)
        try:
            _, stderr = process.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):  # no pipe, or it stays stuck
            stderr = "(no stack: standard error is not a pipe, or the child did not dump it)"
        if isinstance(stderr, bytes):
            stderr = stderr.decode("utf-8", "replace")
        pytest.fail(
            f"{process.args!r} did not end within {timeout:g} s of signal {signum} ({masks}); its stacks:\n"
            f"{(stderr or '')[-6000:]}"
        )


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
