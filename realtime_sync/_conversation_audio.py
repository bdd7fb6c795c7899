"""Growable int16 storage for the audio of one conversation item.

Concatenating arrays on every ``response.audio.delta`` copies the whole item
each time, which is quadratic over a long reply. An item that is receiving
audio owns one :class:`AudioBuffer`; after each append the conversation sets
``formatted["audio"]`` to the buffer's view of the filled part.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["AudioBuffer"]

# The smallest buffer an item's audio grows into: one second at 24 kHz.
_MIN_AUDIO_CAPACITY = 24_000


class AudioBuffer:
    """A growable int16 buffer whose filled part is exposed as a numpy view."""

    __slots__ = ("data", "size", "view")

    def __init__(self, initial: Optional[np.ndarray]) -> None:
        seed = np.zeros(0, dtype=np.int16) if initial is None else initial
        self.size = int(seed.shape[0])
        self.data = np.empty(max(self.size, _MIN_AUDIO_CAPACITY), dtype=np.int16)
        self.data[: self.size] = seed
        self.view: np.ndarray = self.data[: self.size]

    def append(self, chunk: np.ndarray) -> np.ndarray:
        """Append ``chunk`` and return a view of all samples so far."""
        size = self.size
        needed = size + len(chunk)
        data = self.data
        capacity = len(data)
        if needed > capacity:
            grown = np.empty(max(needed, 4 * capacity), dtype=np.int16)
            grown[:size] = data[:size]
            self.data = data = grown
        data[size:needed] = chunk
        self.size = needed
        view = self.view = data[:needed]
        return view

    def finish(self) -> np.ndarray:
        """The samples as an array that holds no spare capacity (a copy if there is any)."""
        if self.data.shape[0] > self.size:
            copied: np.ndarray = self.view.copy()
            return copied
        return self.view
