"""The wire formats and pcm16 conversions (private; see :mod:`realtime_sync.audio`).

Audio inside the library is a 1-D native ``numpy.int16`` array; this module
turns what users hand in (arrays of any integer or float dtype, pcm16 bytes,
lists) into that, and knows the Realtime API's formats and their rates.
"""

from __future__ import annotations

import array
from typing import Any, List, Tuple, Union

import numpy as np

from ..errors import ConfigurationError
from ._formats import AUDIO_FORMATS, check_format, sample_rate

__all__ = [
    "AUDIO_FORMATS",
    "AudioLike",
    "INT16_MAX",
    "INT16_MIN",
    "PCM16_LE",
    "bytes_to_pcm16",
    "check_format",
    "check_rate",
    "float_to_pcm16",
    "pcm16_to_float",
    "pcm16_view",
    "sample_rate",
    "to_pcm16",
]

PCM16_LE = np.dtype("<i2")
_NATIVE_INT16 = np.dtype(np.int16)  # numpy keeps one instance: `is` is the fast test
INT16_MIN = -32768
INT16_MAX = 32767

#: What :func:`to_pcm16` accepts (an alias for type hints).
AudioLike = Union[
    np.ndarray, bytes, bytearray, memoryview, "array.array[Any]", List[Any], Tuple[Any, ...]
]


def bytes_to_pcm16(data: Union[bytes, bytearray, memoryview]) -> np.ndarray:
    """Little-endian pcm16 bytes to a new native int16 array (odd last byte dropped)."""
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    view = view.cast("B")
    count = len(view) // 2
    return np.frombuffer(view, dtype=PCM16_LE, count=count).astype(np.int16)



def _int_array_to_int16(arr: np.ndarray) -> np.ndarray:
    """Cast an integer array to native int16, refusing values out of range."""
    if arr.dtype.kind == "i" and arr.dtype.itemsize == 2:
        return arr.astype(np.int16)  # a copy, also fixes a big-endian byte order
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < INT16_MIN or high > INT16_MAX:
            raise ValueError(
                f"integer samples must lie in [-32768, 32767] to be pcm16; got values "
                f"from {low} to {high} (dtype {arr.dtype}). Scale them first, or pass "
                f"floats in [-1, 1]."
            )
    return arr.astype(np.int16)


def to_pcm16(samples: AudioLike) -> np.ndarray:
    """Convert audio in any common shape to a new 1-D native ``int16`` array.

    Accepted inputs:

    * a 1-D numpy integer array: int16 of either byte order is copied as is;
      other integer dtypes are cast when every value fits in int16;
    * a 1-D numpy float array: samples in ``[-1, 1]``, converted by
      :func:`float_to_pcm16` (values outside are clipped);
    * ``bytes`` / ``bytearray`` / ``memoryview``: pcm16 little-endian bytes (an
      odd trailing byte is dropped);
    * a list, tuple or ``array.array`` of ints (taken as int16 values) or of
      floats (taken as ``[-1, 1]`` samples).

    The result never shares memory with the input.

    Raises:
        TypeError: the input is of another type (for example ``str``: base64
            text goes through :func:`base64_to_pcm16`), or has a bool, complex
            or object dtype.
        ValueError: the array is not 1-D, or integer values do not fit in int16.
    """
    if samples.__class__ is np.ndarray and samples.dtype is _NATIVE_INT16 and samples.ndim == 1:
        copied: np.ndarray = samples.copy()  # the common case (microphone chunks), with the fewest checks
        return copied
    if isinstance(samples, (bytes, bytearray, memoryview)):
        return bytes_to_pcm16(samples)
    if isinstance(samples, str):
        raise TypeError(
            "to_pcm16() got a str; decode base64 audio with base64_to_pcm16() or decode_audio()"
        )
    if isinstance(samples, (list, tuple)):
        arr = np.asarray(samples)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int16)
    elif isinstance(samples, array.array):
        arr = np.asarray(samples)  # its values, like a list ("h" is int16, "f" float)
    elif isinstance(samples, np.ndarray):
        arr = samples
    else:
        raise TypeError(
            "expected a numpy array, bytes-like pcm16 or a list of samples, got "
            f"{type(samples).__name__}"
        )
    if arr.ndim != 1:
        raise ValueError(
            f"expected mono audio as a 1-D array, got an array of shape {arr.shape}; "
            "mix channels down first (for example arr.mean(axis=1))"
        )
    kind = arr.dtype.kind
    if kind in "iu":
        return _int_array_to_int16(arr)
    if kind == "f":
        return float_to_pcm16(arr)
    raise TypeError(f"cannot convert samples of dtype {arr.dtype} to pcm16")


def float_to_pcm16(x: Any) -> np.ndarray:
    """Convert float samples in ``[-1, 1]`` to int16 (any shape, new array).

    ``int16 = clip(rint(x * 32768), -32768, 32767)``: values outside
    ``[-1, 1]`` are clipped (``1.0`` itself becomes ``32767``), infinities
    clip to the limits and NaN becomes 0.

    Args:
        x: the float samples (an array, list or scalar; ints are taken as
            floats too).

    Raises:
        TypeError: the input is not real numbers.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"float_to_pcm16() needs real numbers, got dtype {arr.dtype}")
    work = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64)
    work *= 32768.0
    np.rint(work, out=work)
    np.clip(work, INT16_MIN, INT16_MAX, out=work)
    if not np.isfinite(work).all():  # only NaN is left after the clip
        np.nan_to_num(work, copy=False, nan=0.0)
    return work.astype(np.int16)


def pcm16_to_float(samples: AudioLike) -> np.ndarray:
    """Convert pcm16 samples to float32 in ``[-1, 1)``: ``x = int16 / 32768``.

    Accepts what :func:`to_pcm16` accepts except floats (converting float
    audio "from pcm16" is almost always a mistake, so it is refused).

    Raises:
        TypeError: float input, or a type :func:`to_pcm16` refuses.
        ValueError: as :func:`to_pcm16`.
    """
    if isinstance(samples, (list, tuple, array.array, np.ndarray)) and (
        np.asarray(samples).dtype.kind == "f"
    ):
        raise TypeError("pcm16_to_float() expects int16 samples or pcm16 bytes, got floats")
    out = pcm16_view(samples).astype(np.float32)
    out *= np.float32(1.0 / 32768.0)
    return out


def pcm16_view(samples: AudioLike) -> np.ndarray:
    """Like :func:`to_pcm16`, but returns a native 1-D int16 array unchanged (no copy)."""
    if samples.__class__ is np.ndarray and samples.dtype is _NATIVE_INT16 and samples.ndim == 1:
        return samples  # the common case, with the fewest checks
    if (
        isinstance(samples, np.ndarray)
        and samples.ndim == 1
        and samples.dtype == np.int16
        and samples.dtype.isnative
    ):
        return samples
    return to_pcm16(samples)



def check_rate(rate: Any, name: str) -> int:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ConfigurationError(f"{name} must be a positive number of Hz, got {rate!r}")
    if not np.isfinite(rate) or rate <= 0 or int(rate) != rate:
        raise ConfigurationError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


