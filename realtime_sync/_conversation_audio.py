"""Audio storage for conversation items: int16 buffers that never hold a reply twice.

Concatenating arrays on every ``response.audio.delta`` copies the whole item
each time, which is quadratic over a long reply. A buffer that grows into a
new allocation is linear but holds the old and the new copy at once: twice
the reply each time it grows. ``realloc`` does not avoid it either: numpy
marks large blocks for transparent huge pages, which splits their mapping, and
the kernel's ``mremap`` then refuses to move them, so the C library copies.

:class:`AudioBuffer` appends into spare capacity and grows in two regimes:

* below 1 Mi samples (2 MiB, about 44 s at 24 kHz) it is an ordinary numpy
  array that grows fourfold by a copy: cheap, and the transient second copy is
  small;
* beyond that its samples live in a memory map of their own (anonymous,
  private) that doubles with ``mremap`` on Linux: the kernel moves the pages,
  nothing is copied, and the spare part is address space that takes memory
  only once it is written. Elsewhere (no ``mremap``) it grows by a copy into
  a new map.

When the audio is done the buffer shrinks in place to the samples it holds
(no copy). So a long reply never needs much more memory than its own samples:
``benchmarks/bench_conversation.py --memory`` and ``benchmarks/bench_floor.py``
measure the peak for a 60-minute reply as resident memory. Each append costs
amortized O(delta).

After every append ``formatted["audio"]`` is a view of the filled part: a plain
1-D ``numpy.int16`` array holding exactly the samples received so far (a map's
arrays have a ``memoryview`` of the map as their base).

Arrays a user holds stay valid. A map cannot be resized while an array over
it exists, so a resize first drops the conversation's own arrays and, when
someone else still holds one, grows by a copy into a new map instead (the
held array keeps the samples it had); a finished buffer that cannot shrink
keeps its spare address space. While a buffer is resized,
``formatted["audio"]`` is an empty array for that instant: a thread that reads
it without the conversation's lock may see it empty once.

:class:`AudioStore` keeps one buffer per item that is receiving audio, and the
audio format each item's audio arrived in (for truncation).
"""

from __future__ import annotations

import mmap
import sys
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from . import audio as _audio
from .errors import ProtocolError

if TYPE_CHECKING:
    import numpy as np
else:
    from ._lazy import numpy as np  # imported when audio is first touched

__all__ = ["AudioBuffer", "AudioStore", "shrink"]

# The smallest buffer an item's audio grows into: one second at 24 kHz.
_MIN_AUDIO_CAPACITY = 24_000

# From this capacity (samples) a buffer's samples live in a memory map of their own.
_MAPPED_FROM = 1 << 20

# Maps grow in place with mremap (Linux); elsewhere by a copy into a new map.
_REMAP = sys.platform.startswith("linux")
_MAP_FLAGS: Dict[str, int] = (
    {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_PRIVATE") else {}
)  # private: a shared anonymous map is a file of fixed size that mremap cannot grow


_EMPTY: Optional[np.ndarray] = None


def _empty() -> np.ndarray:
    """What formatted["audio"] holds while its buffer is resized (shared, read-only)."""
    global _EMPTY
    if _EMPTY is None:
        empty = np.zeros(0, dtype=np.int16)
        empty.flags.writeable = False
        _EMPTY = empty
    return _EMPTY


def _new_map(samples: int) -> mmap.mmap:
    return mmap.mmap(-1, 2 * max(samples, 1), **_MAP_FLAGS)


def _remap(memory: mmap.mmap, samples: int) -> bool:
    """Resize ``memory`` in place to ``samples``; False when an array over it is still held.

    Also False where maps are not resized (no ``mremap``: CPython's ``resize``
    raises SystemError on macOS, and Windows cannot resize an anonymous map),
    or when the kernel refuses: the caller then copies, and loses nothing.
    """
    if not _REMAP:
        return False
    try:
        memory.resize(2 * samples)
    except (BufferError, OSError, SystemError, ValueError):
        return False
    return True


class AudioBuffer:
    """A growable int16 array whose filled part is exposed as a numpy view."""

    __slots__ = ("data", "size", "view", "memory")

    def __init__(self, initial: Optional[np.ndarray]) -> None:
        seed = _empty() if initial is None else initial
        self.size = int(seed.shape[0])
        self.memory: Optional[mmap.mmap] = None  # the map holding the samples, from _MAPPED_FROM on
        self.data: np.ndarray = self._allocate(max(self.size, _MIN_AUDIO_CAPACITY))
        self.data[: self.size] = seed
        self.view: np.ndarray = self.data[: self.size]

    def _allocate(self, capacity: int) -> np.ndarray:
        if capacity < _MAPPED_FROM:
            return np.empty(capacity, dtype=np.int16)
        self.memory = _new_map(capacity)
        return np.frombuffer(self.memory, dtype=np.int16)

    def append(self, chunk: np.ndarray, formatted: Dict[str, Any]) -> np.ndarray:
        """Append ``chunk``, set ``formatted["audio"]`` to a view of all samples so far and return it."""
        size = self.size
        needed = size + len(chunk)
        if needed > self.data.shape[0]:
            self._grow(needed, formatted)
        self.data[size:needed] = chunk
        self.size = needed
        view = self.view = formatted["audio"] = self.data[:needed]
        return view

    def _grow(self, needed: int, formatted: Dict[str, Any]) -> None:
        capacity = self.data.shape[0]
        if self.memory is not None and _REMAP and self._resize(max(needed, 2 * capacity), formatted):
            return
        old = self.data
        grown = self._allocate(max(needed, (4 if capacity < _MAPPED_FROM else 2) * capacity))
        grown[: self.size] = old[: self.size]
        self.data = grown

    def finish(self, formatted: Dict[str, Any]) -> np.ndarray:
        """Trim the spare capacity and set ``formatted["audio"]`` to the whole array; return it."""
        if self.data.shape[0] > self.size:
            if self.memory is None:
                self._shrink_array(formatted)
            elif self.size:
                self._resize(self.size, formatted)  # a map still viewed elsewhere keeps its spare pages
        result = self.view = formatted["audio"] = self.data if self.data.shape[0] == self.size else self.data[: self.size]
        return result

    def _resize(self, capacity: int, formatted: Dict[str, Any]) -> bool:
        # Drop the arrays this object made over the map, so that it may be resized.
        memory = self.memory
        assert memory is not None
        formatted["audio"] = self.view = self.data = _empty()
        resized = _remap(memory, capacity)
        self.data = np.frombuffer(memory, dtype=np.int16)
        return resized

    def _shrink_array(self, formatted: Dict[str, Any]) -> None:
        # Drop the views this object made, so that numpy may realloc in place.
        formatted["audio"] = self.view = _empty()
        try:
            self.data.resize(self.size, refcheck=True)
        except ValueError:  # a view of it is held elsewhere: leave that memory alone
            self.data = np.array(self.data[: self.size], dtype=np.int16, copy=True)


def _map_of(array: np.ndarray) -> Optional[mmap.mmap]:
    """The memory map ``array`` views, if it is a whole map's array or a view of one."""
    owner = array.base if isinstance(array.base, np.ndarray) else array
    base = owner.base
    if isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap):
        return base.obj
    return None


def shrink(formatted: Dict[str, Any], end: int) -> None:
    """Cut ``formatted["audio"]`` to its first ``end`` samples, in place when nobody else holds it."""
    current = formatted.get("audio")
    if current is None:
        formatted["audio"] = _empty().copy()
        return
    if not (isinstance(current, np.ndarray) and current.dtype == np.int16 and current.ndim == 1):
        current = np.asarray(current, dtype=np.int16).reshape(-1)
    length = int(current.shape[0])
    end = min(max(end, 0), length)
    if end == length and current is formatted["audio"]:
        return  # nothing to cut
    if current.base is None and current.flags.owndata and current.flags.c_contiguous:
        formatted["audio"] = _empty()
        try:
            current.resize(end, refcheck=True)
        except ValueError:
            current = np.array(current[:end], dtype=np.int16, copy=True)
        formatted["audio"] = current
        return
    memory = _map_of(current)
    if memory is not None and end and current.flags.c_contiguous and _is_map_start(current, memory):
        formatted["audio"] = current = _empty()  # drop our arrays over the map
        if _remap(memory, end):
            formatted["audio"] = np.frombuffer(memory, dtype=np.int16)
            return
        current = np.frombuffer(memory, dtype=np.int16)  # held elsewhere: copy what is kept
    formatted["audio"] = np.array(current[:end], dtype=np.int16, copy=True)


def _is_map_start(array: np.ndarray, memory: mmap.mmap) -> bool:
    whole = np.frombuffer(memory, dtype=np.int16)
    return bool(array.__array_interface__["data"][0] == whole.__array_interface__["data"][0])


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
