"""Helpers for the tests of the samples, the command line, the notebook and the README.

They run the real programs in subprocesses (with the interpreter running the
tests), without an OpenAI key, so each one talks to a simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

__all__ = ["ROOT", "SAMPLES", "clean_env", "run_python"]

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
