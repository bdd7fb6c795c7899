"""Audio storage for conversation items: int16 buffers that never hold a reply twice.

Concatenating arrays on every ``response.audio.delta`` copies the whole item
each time, which is quadratic over a long reply. A buffer that grows into a
new allocation is linear but holds the old and the new copy at once (twice the
reply when it grows, and again if the spare capacity is trimmed by a copy at
the end). :class:`AudioBuffer` appends into spare capacity and grows in two
regimes:

* below 32 MiB (about 11 minutes of 24 kHz audio) it allocates a buffer four
  times larger and copies into it: cheap, and the transient second copy is
  bounded (at most 32 MiB); the spare part is address space the operating
  system backs with memory only once it is written;
* from 32 MiB on it grows its array *in place* by a quarter
  (``ndarray.resize``, that is ``realloc``, which the C library serves by
  remapping the pages of such a large block rather than copying them).

When the audio is done the buffer shrinks in place to the samples it holds
(no copy). So a long reply never needs much more memory than its own samples:
``benchmarks/bench_conversation.py --memory`` measures the peak for a 60-minute
reply, with tracemalloc (which counts reserved capacity) and as resident memory.
Each append costs amortized O(delta).

After every append ``formatted["audio"]`` is a view of the filled part: a plain
1-D ``numpy.int16`` array holding exactly the samples received so far.

Arrays a user holds stay valid. numpy refuses to resize an array that a view
still references, so an in-place resize first drops the conversation's own
view and falls back to a copy into a new array when someone else holds one
(that view keeps the samples it had). While a buffer is resized in place,
``formatted["audio"]`` is an empty array for that instant: a thread that reads
it without the conversation's lock may see it empty once.

:class:`AudioStore` keeps one buffer per item that is receiving audio, and the
audio format each item's audio arrived in (for truncation).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from . import audio as _audio
from .errors import ProtocolError

__all__ = ["AudioBuffer", "AudioStore", "shrink"]

# The smallest buffer an item's audio grows into: one second at 24 kHz.
_MIN_AUDIO_CAPACITY = 24_000

# From this capacity (samples; 32 MiB of int16) buffers grow in place by a quarter.
_IN_PLACE_FROM = 1 << 24

# What formatted["audio"] holds while its buffer is being resized in place.
_EMPTY = np.zeros(0, dtype=np.int16)
_EMPTY.flags.writeable = False


class AudioBuffer:
    """A growable int16 array whose filled part is exposed as a numpy view."""

    __slots__ = ("data", "size", "view")

    def __init__(self, initial: Optional[np.ndarray]) -> None:
        seed = _EMPTY if initial is None else initial
        self.size = int(seed.shape[0])
        self.data: np.ndarray = np.empty(max(self.size, _MIN_AUDIO_CAPACITY), dtype=np.int16)
        self.data[: self.size] = seed
        self.view: np.ndarray = self.data[: self.size]

    def append(self, chunk: np.ndarray, formatted: Dict[str, Any]) -> np.ndarray:
        """Append ``chunk``, set ``formatted["audio"]`` to a view of all samples so far and return it."""
        size = self.size
        needed = size + len(chunk)
        capacity = self.data.shape[0]
        if needed > capacity:
            if capacity < _IN_PLACE_FROM:
                grown = np.empty(max(needed, 4 * capacity), dtype=np.int16)
                grown[:size] = self.data[:size]
                self.data = grown
            else:
                self._resize(max(needed, capacity * 5 // 4), formatted)
        self.data[size:needed] = chunk
        self.size = needed
        view = self.view = formatted["audio"] = self.data[:needed]
        return view

    def finish(self, formatted: Dict[str, Any]) -> np.ndarray:
        """Trim the spare capacity and set ``formatted["audio"]`` to the whole array; return it."""
        if self.data.shape[0] > self.size:
            self._resize(self.size, formatted)
        result = self.view = formatted["audio"] = self.data if self.data.shape[0] == self.size else self.data[: self.size]
        return result

    def _resize(self, capacity: int, formatted: Dict[str, Any]) -> None:
        # Drop the views this object made, so that numpy may realloc in place.
        formatted["audio"] = self.view = _EMPTY
        try:
            self.data.resize(capacity, refcheck=True)
        except ValueError:  # a view of it is held elsewhere: leave that memory alone
            grown = np.empty(capacity, dtype=np.int16)
            kept = min(self.size, capacity)
            grown[:kept] = self.data[:kept]
            self.data = grown


def shrink(formatted: Dict[str, Any], end: int) -> None:
    """Cut ``formatted["audio"]`` to its first ``end`` samples, in place when nobody else holds it."""
    current = formatted.get("audio")
    if current is None:
        formatted["audio"] = _EMPTY.copy()
        return
    if not (isinstance(current, np.ndarray) and current.dtype == np.int16 and current.ndim == 1):
        current = np.asarray(current, dtype=np.int16).reshape(-1)
    end = min(max(end, 0), int(current.shape[0]))
    if current.base is None and current.flags.owndata and current.flags.c_contiguous:
        formatted["audio"] = _EMPTY
        try:
            current.resize(end, refcheck=True)
        except ValueError:
            current = np.array(current[:end], dtype=np.int16, copy=True)
        formatted["audio"] = current
        return
    formatted["audio"] = np.array(current[:end], dtype=np.int16, copy=True)


class AudioStore:
    """The audio buffers of the items receiving audio, and each item's audio format.

    Not thread-safe on its own: the conversation calls it under its lock.
    """

    __slots__ = ("buffers", "formats")

    def __init__(self) -> None:
        self.buffers: Dict[str, AudioBuffer] = {}
        self.formats: Dict[str, str] = {}

    def clear(self) -> None:
        """Forget every buffer and format."""
        self.buffers = {}
        self.formats = {}

    def forget(self, item_id: str) -> None:
        """Drop what is kept for one item (it was deleted)."""
        self.buffers.pop(item_id, None)
        self.formats.pop(item_id, None)

    def format_of(self, item_id: str, default: str) -> str:
        """The format ``item_id``'s audio arrived in; ``default`` (remembered) for its first delta."""
        audio_format = self.formats.get(item_id)
        if audio_format is None:
            audio_format = self.formats[item_id] = default
        return audio_format

    def decode(self, event: Mapping[str, Any], payload: str, audio_format: str) -> np.ndarray:
        """A delta's base64 payload as int16 samples, or raise ProtocolError."""
        try:
            return _audio.decode_audio(payload, audio_format)
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ProtocolError(
                f"{event.get('type')}: audio payload is not valid base64 {audio_format}: {exc}",
                event=dict(event),
            ) from exc

    def append(self, item_id: str, formatted: Dict[str, Any], samples: np.ndarray) -> None:
        """Append ``samples`` to the item's ``formatted["audio"]``."""
        buffer = self.buffers.get(item_id)
        current = formatted.get("audio")
        if buffer is None or buffer.view is not current:
            # First delta, or the user put an array of their own there: start from it.
            seed = None if current is None else np.asarray(current, dtype=np.int16).reshape(-1)
            buffer = self.buffers[item_id] = AudioBuffer(seed)
        buffer.append(samples, formatted)

    def finish(self, item_id: str, formatted: Dict[str, Any]) -> None:
        """The item's audio is complete: trim its buffer's spare capacity and let it go."""
        buffer = self.buffers.pop(item_id, None)
        if buffer is not None and formatted.get("audio") is buffer.view:
            buffer.finish(formatted)

    def truncate(self, item_id: str, formatted: Dict[str, Any], end: int) -> None:
        """Keep the item's first ``end`` samples (its buffer, if any, is finished first)."""
        self.finish(item_id, formatted)
        shrink(formatted, end)
