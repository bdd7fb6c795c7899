"""Audio storage for conversation items: int16 buffers that never hold a reply twice.

Concatenating arrays on every ``response.audio.delta`` copies the whole item
each time, which is quadratic over a long reply. A buffer that grows into a
new allocation is linear but holds the old and the new copy at once: twice
the reply each time it grows; and one resized in place (``realloc``,
``mremap``) must first drop every array over it, so ``formatted["audio"]``
would be empty for that instant to a thread reading it without the
conversation's lock.

:class:`AudioBuffer` appends into spare capacity and grows in two regimes:

* below 1 Mi samples (2 MiB, about 44 s at 24 kHz) it is an ordinary numpy
  array that grows fourfold by a copy: cheap, and the transient second copy is
  small;
* beyond that, on Linux, its samples live in an anonymous memory file
  (``memfd_create``) and the buffer is a shared map of it. It grows by making
  the file longer and mapping it again, larger: the new map shows the very
  pages the old one does, so nothing is copied, and the old map stays valid
  (and shown) until the new one is ready. The spare part is a hole in the
  file that takes memory only once it is written. Elsewhere (no memory files)
  it grows by a copy into a new, private anonymous map; so does a buffer
  begun while many maps of memory files are alive, before Python 3.13 (each
  holds a file descriptor there: :data:`_MAX_FILE_MAPS`).

Either way the new array is shown only once it holds every sample: a reader
without the lock sees the old array or the new one, never a shorter one.
When the audio is done the buffer is shown through a map (or, below the
first regime's limit, a copy) of exactly its samples, and the memory file's
descriptor is closed (its maps keep the file). So a long reply never needs
much more memory than its own samples: ``benchmarks/bench_conversation.py
--memory`` and ``benchmarks/bench_floor.py`` measure the peak for a
60-minute reply as resident memory (a memory file's pages count there only
where a live map has touched them: its allocated blocks, ``fstat``, say what
it holds). Each append costs amortized O(delta).

After every append ``formatted["audio"]`` is a view of the filled part: a plain
1-D ``numpy.int16`` array holding exactly the samples received so far (a map's
arrays have a ``memoryview`` of the map as their base).

Arrays a user holds stay valid and keep their samples: a map is never
resized or shortened, only replaced. A forked child (``os.fork()``, a
``multiprocessing`` worker) gets its own copy of every memory file's map at
fork time (:func:`_watch_forks`): what it writes or appends, the parent
never sees, and the other way round. A cut (``conversation.item.truncated``) shows the first samples of a
map, or a copy of an array's, never an empty array in between.

:class:`AudioStore` keeps one buffer per item that is receiving audio, and the
audio format each item's audio arrived in (for truncation).
"""

from __future__ import annotations

import mmap
import os
import sys
import weakref
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

# Maps grow without a copy over an anonymous memory file (Linux); elsewhere by a copy into a new map.
_MEMFD = sys.platform.startswith("linux") and hasattr(os, "memfd_create")
# Before Python 3.13 every map of a file holds a descriptor of its own (a dup): past this many
# such maps alive, a new buffer takes a private map grown by copies instead (descriptors are
# shared with the sockets). From 3.13 on a map holds none (trackfd=False).
_MAX_FILE_MAPS = 64
_TRACKFD: Dict[str, bool] = {"trackfd": False} if sys.version_info >= (3, 13) else {}
_live_maps: "weakref.WeakSet[_Map]" = weakref.WeakSet()
# Every map of a memory file alive (a forked child makes its own copies of them: _privatise_maps).
_file_maps: "weakref.WeakSet[_Map]" = weakref.WeakSet()
_MAP_FLAGS: Dict[str, int] = (
    {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_PRIVATE") else {}
)


_EMPTY: Optional[np.ndarray] = None


def _empty() -> np.ndarray:
    """An empty int16 array (shared, read-only)."""
    global _EMPTY
    if _EMPTY is None:
        empty = np.zeros(0, dtype=np.int16)
        empty.flags.writeable = False
        _EMPTY = empty
    return _EMPTY


def _new_map(samples: int) -> mmap.mmap:
    """A private anonymous map of ``samples`` (where there are no memory files)."""
    return mmap.mmap(-1, 2 * max(samples, 1), **_MAP_FLAGS)


class _File:
    """An anonymous memory file holding one buffer's samples; closed once no map of it is left."""

    __slots__ = ("fd", "size")

    def __init__(self) -> None:
        self.fd = os.memfd_create("realtime-sync-audio", getattr(os, "MFD_CLOEXEC", 0))
        self.size = 0

    def map(self, samples: int) -> "_Map":
        """A new shared map of the file's first ``samples`` (the file grows to hold them)."""
        size = 2 * max(samples, 1)
        if size > self.size:
            os.ftruncate(self.fd, size)
            self.size = size
        memory = _Map(self.fd, size, **_TRACKFD)
        memory.file = self
        if not _TRACKFD:
            _live_maps.add(memory)
        _file_maps.add(memory)
        _watch_forks()
        return memory

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass


class _Map(mmap.mmap):
    """A shared map of a :class:`_File` (it keeps the file, so a grown map can show the same pages)."""

    file: Optional[_File] = None


_libc: Any = None  # the C library (ctypes), once a memory file is mapped: what a forked child needs


def _watch_forks() -> None:
    """Have a forked child make its own copy of every map of a memory file (the first map made calls this).

    A shared map stays shared across ``os.fork()``: a child's in-place write
    to an item's audio (a ``multiprocessing`` worker's, say), or its growth,
    would land in the parent's samples, and the parent's in the child's. In
    the child, each such map is replaced, at the same address (the arrays
    over it stay valid), by a private copy (``mremap``), and grows by copies
    from then on. ``subprocess`` (fork and exec) does not run this.
    """
    global _libc
    if _libc is not None:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mremap.restype = ctypes.c_void_p
        libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    except (ImportError, OSError, AttributeError):  # no ctypes: children keep sharing (documented)
        _libc = False
        return
    _libc = libc
    os.register_at_fork(after_in_child=_privatise_maps)


def _privatise_maps() -> None:
    """In a forked child: every map of a memory file becomes a private copy at the same address."""
    import ctypes

    libc = _libc
    failed = (1 << (8 * ctypes.sizeof(ctypes.c_void_p))) - 1  # MAP_FAILED, (void *) -1
    for memory in list(_file_maps):
        if memory.closed:
            continue
        length = -len(memory) // mmap.PAGESIZE * -mmap.PAGESIZE
        anchor = ctypes.c_char.from_buffer(memory)
        address = ctypes.addressof(anchor)
        del anchor
        copy = libc.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if copy is None or copy == failed:
            continue  # no memory for a copy: this map stays shared
        ctypes.memmove(copy, address, len(memory))
        if libc.mremap(copy, length, length, _MREMAP_MAYMOVE | _MREMAP_FIXED, address) in (None, failed):
            libc.munmap(copy, length)
            continue
        memory.file = None  # grows by copies from now on
        _file_maps.discard(memory)


_MREMAP_MAYMOVE, _MREMAP_FIXED = 1, 2  # Linux's <sys/mman.h>


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
        memory: Optional[mmap.mmap] = None
        if _MEMFD and len(_live_maps) < _MAX_FILE_MAPS:
            try:
                memory = _File().map(capacity)
            except OSError:  # no descriptor left, say: a private map, grown by copies
                memory = None
        self.memory = memory if memory is not None else _new_map(capacity)
        return np.frombuffer(self.memory, dtype=np.int16)

    def append(self, chunk: np.ndarray, formatted: Dict[str, Any]) -> np.ndarray:
        """Append ``chunk``, set ``formatted["audio"]`` to a view of all samples so far and return it."""
        size = self.size
        needed = size + len(chunk)
        if needed > self.data.shape[0]:
            self._grow(needed)
        self.data[size:needed] = chunk
        self.size = needed
        view = self.view = formatted["audio"] = self.data[:needed]
        return view

    def _grow(self, needed: int) -> None:
        """A larger array holding the samples so far; the one shown stays as it is until the next is."""
        capacity = self.data.shape[0]
        memory = self.memory
        if isinstance(memory, _Map) and memory.file is not None:  # the same pages, mapped larger: no copy
            try:
                self.memory = memory.file.map(max(needed, 2 * capacity))
                self.data = np.frombuffer(self.memory, dtype=np.int16)
                return
            except OSError:  # the file cannot grow: a copy, as elsewhere
                pass
        old = self.data
        grown = self._allocate(max(needed, (4 if capacity < _MAPPED_FROM else 2) * capacity))
        grown[: self.size] = old[: self.size]
        self.data = grown

    def finish(self, formatted: Dict[str, Any]) -> np.ndarray:
        """Show exactly the samples (no spare capacity) in ``formatted["audio"]``; return that array."""
        size = self.size
        memory = self.memory
        if self.data.shape[0] > size:
            if memory is None:
                self.data = self.data[:size].copy()  # small: a copy of its own size (the old stays shown meanwhile)
            elif isinstance(memory, _Map) and memory.file is not None and size:
                try:
                    self.memory = memory.file.map(size)  # the same pages, mapped to their end
                    self.data = np.frombuffer(self.memory, dtype=np.int16)
                except OSError:  # it keeps its spare address space (no memory: never written)
                    pass
        if isinstance(self.memory, _Map) and self.memory.file is not None:
            self.memory.file.close()  # no more growth: its maps keep the file
        result = self.view = formatted["audio"] = self.data if self.data.shape[0] == size else self.data[:size]
        return result


def _map_of(array: np.ndarray) -> Optional[mmap.mmap]:
    """The memory map ``array`` views, if it is a whole map's array or a view of one."""
    owner = array.base if isinstance(array.base, np.ndarray) else array
    base = owner.base
    if isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap):
        return base.obj
    return None


def shrink(formatted: Dict[str, Any], end: int) -> None:
    """Cut ``formatted["audio"]`` to its first ``end`` samples; nothing shorter is ever shown in between.

    A map's samples are shown through a view of its start (no copy; the pages
    stay until the item's audio goes, as an array a user holds may show them);
    an array's are copied, once.
    """
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
    if _map_of(current) is not None and current.flags.c_contiguous:
        formatted["audio"] = current[:end]
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
