"""Masked client text frames put together in one reusable buffer: the audio append's writer.

:func:`~.frames.encode_frame` makes each frame afresh: a new buffer, a mask
key from :func:`os.urandom` and a numpy view to mask it through. That is
right for an occasional event, but an ``input_audio_buffer.append`` goes out
fifty times a second, and at ~1.3 KB (20 ms of 24 kHz pcm16) those fixed
costs are most of the masking. :class:`FrameWriter` keeps them once:

* one buffer, with a ``uint32`` view over it made once; the frame is laid
  out so that its payload starts on a four-byte boundary and is masked in
  place, a word at a time, in one numpy call (a few bytes past the payload
  are masked too, and never sent);
* mask keys drawn from :func:`os.urandom` 256 at a time, each used for one
  frame only (RFC 6455 asks for a fresh, unpredictable key per frame: the
  same source as before, read in bulk).

The frame returned is a view of the buffer, valid until the next call: a
writer serves one sender at a time (its owner's lock), which writes the
frame before it asks for the next.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Tuple

if TYPE_CHECKING:
    import numpy
else:
    from .._lazy import numpy  # imported by the first frame written

from .frames import OP_TEXT, frame_header

__all__ = ["FrameWriter"]

_KEYS_PER_DRAW = 256
# A buffer this large or smaller is kept for the next frame; a larger frame gets one of its own.
_KEPT_BYTES = 256 * 1024


class FrameWriter:
    """Final, masked text frames, each written over the last one. Not thread-safe (see the module)."""

    def __init__(self) -> None:
        self._buffer = bytearray(0)
        self._words: Any = None  # numpy uint32 view of _buffer
        self._keys: Any = None  # numpy uint32 array of fresh keys
        self._next_key = _KEYS_PER_DRAW

    def text(self, payload: bytes) -> memoryview:
        """The masked text frame of ``payload`` (a view of the buffer, valid until the next call)."""
        length = len(payload)
        header = frame_header(OP_TEXT, length)
        begin = len(header) + 4  # the payload, after the header and the key
        start = -begin % 4  # where the frame starts, so that the payload starts on a word
        begin += start
        end = begin + length
        buffer, words = self._room(end + 3)
        buffer[start : begin - 4] = header
        key = self._key()
        first = begin >> 2
        words[first - 1] = key  # the key's bytes in memory order: the same order the mask runs in
        buffer[begin:end] = payload
        span = words[first : (end + 3) >> 2]
        numpy.bitwise_xor(span, key, out=span)
        return memoryview(buffer)[start:end]

    def _room(self, size: int) -> Tuple[bytearray, Any]:
        """A buffer of at least ``size`` bytes and its word view."""
        if len(self._buffer) >= size:
            return self._buffer, self._words
        buffer = bytearray(max(4096, (size + 4095) & ~4095))
        words = numpy.frombuffer(buffer, dtype=numpy.uint32)
        if len(buffer) <= _KEPT_BYTES:
            self._buffer, self._words = buffer, words
        return buffer, words

    def _key(self) -> Any:
        """The next fresh mask key (a numpy uint32)."""
        index = self._next_key
        if index >= _KEYS_PER_DRAW:
            self._keys = numpy.frombuffer(os.urandom(4 * _KEYS_PER_DRAW), dtype=numpy.uint32)
            index = 0
        self._next_key = index + 1
        return self._keys[index]
