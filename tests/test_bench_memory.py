"""benchmarks/_memory.py: the memory figures count the conversation's audio memory files."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

np = pytest.importorskip("numpy")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
_memory = pytest.importorskip("_memory")

from realtime_sync import _conversation_audio  # noqa: E402


@pytest.mark.skipif(not _conversation_audio._MEMFD or _memory.status_kib("RssAnon") is None,
                    reason="memory files and /proc are Linux's")
def test_a_finished_items_audio_file_counts_until_its_maps_go() -> None:
    """From Python 3.13 a done item's memory file has no descriptor left (its maps hold none): the
    figures found it by descriptor only, so the audio of a finished reply counted as nothing held."""
    before = set(_memory._kept)
    memory = _memory.PeakMemory()
    memory.start()
    formatted: Dict[str, Any] = {}
    buffer = _conversation_audio.AudioBuffer(None)
    chunk = np.ones(240_000, dtype=np.int16)  # 10 s at 24 kHz
    for _ in range(12):  # past the first regime (1 Mi samples): a memory file
        buffer.append(chunk, formatted)
        memory.sample()
    buffer.finish(formatted)
    assert _conversation_audio._map_of(formatted["audio"]) is not None
    held = formatted["audio"].nbytes
    assert memory.steady() >= 0.95 * held, (memory.steady(), held)
    del formatted, buffer
    gc.collect()
    _memory.audio_file_bytes()
    assert set(_memory._kept) <= before  # the file is let go with its last map
