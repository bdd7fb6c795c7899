"""Base64 wire audio: :func:`encode_audio`, :func:`decode_audio` and the pcm16 pair (private).

See :mod:`realtime_sync.audio` for the public names.

Base64 goes through ``pybase64`` (SIMD, the ``fast`` extra) when it can be
imported, else through the standard library's ``binascii``. Both give the same
text for the same samples. Decoding behaves exactly as ``base64.b64decode``
either way (not validating: characters outside the alphabet are skipped):
pybase64 decodes plain base64, which is what servers send, and hands
anything else to ``binascii``. Errors become ``ValueError("invalid base64
audio: ...")``. :data:`BASE64_BACKEND` names the backend in use.

Neither path copies more than it must: encoding reads the int16 array's
memory in place (no ``tobytes()``), and decoding pcm16 with ``pybase64``
writes straight into the bytearray that becomes the returned array.
"""

from __future__ import annotations

import binascii
import importlib
from typing import Any, Callable, Optional, Union

import numpy as np

from ._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._pcm import PCM16_LE, AudioLike, check_format, pcm16_view

__all__ = ["BASE64_BACKEND", "pcm16_to_base64", "base64_to_pcm16", "encode_audio", "decode_audio"]


def _optional_pybase64() -> Optional[Any]:
    """The ``pybase64`` module of the optional ``fast`` extra (1.3 or newer), or None."""
    try:
        module = importlib.import_module("pybase64")
    except ImportError:
        return None
    if not all(hasattr(module, name) for name in ("b64encode_as_string", "b64decode_as_bytearray")):
        return None  # too old to help: the standard library is as good
    return module


_pybase64 = _optional_pybase64()

#: ``"pybase64"`` when the SIMD base64 of the ``fast`` extra is in use, else ``"stdlib"``.
BASE64_BACKEND = "pybase64" if _pybase64 is not None else "stdlib"

Base64Text = Union[str, bytes, bytearray, memoryview]

_NATIVE_LE = np.dtype(np.int16) == PCM16_LE


def _stdlib_encode(data: Any) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _stdlib_decode(text: Base64Text) -> Union[bytes, bytearray]:
    return binascii.a2b_base64(text)


def _stdlib_decode_writable(text: Base64Text) -> bytearray:
    return bytearray(binascii.a2b_base64(text))


def _fast_decode_writable(text: Base64Text) -> bytearray:
    """pybase64 for plain base64 (the wire's), the standard library for anything else.

    ``validate=True`` is pybase64's fastest path, and text it refuses (line
    breaks, junk, padding inside the text) is decoded by ``binascii``, so the
    result and the errors are always exactly the standard library's.
    """
    assert _pybase64 is not None
    try:
        decoded: bytearray = _pybase64.b64decode_as_bytearray(text, validate=True)
    except ValueError:  # binascii.Error too
        return bytearray(binascii.a2b_base64(text))
    return decoded


def _fast_decode(text: Base64Text) -> Union[bytes, bytearray]:
    return _fast_decode_writable(text)


if _pybase64 is not None:
    _encode: Callable[[Any], str] = _pybase64.b64encode_as_string
    _decode: Callable[[Base64Text], Union[bytes, bytearray]] = _fast_decode
    _decode_writable: Callable[[Base64Text], bytearray] = _fast_decode_writable
else:  # pragma: no cover - depends on the environment
    _encode, _decode, _decode_writable = _stdlib_encode, _stdlib_decode, _stdlib_decode_writable


def _checked(text: Any) -> Base64Text:
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected base64 text (str or bytes), got {type(text).__name__}")
    return text


def _invalid(exc: Exception) -> ValueError:
    return ValueError(f"invalid base64 audio: {exc}")


def pcm16_to_base64(samples: AudioLike) -> str:
    """Encode samples as base64 text of pcm16 little-endian bytes.

    ``samples`` is anything :func:`to_pcm16` accepts (normally an int16 array,
    which is read in place, not copied).
    """
    pcm = pcm16_view(samples)
    if _NATIVE_LE:
        try:
            return _encode(pcm)  # the array's own memory: no copy
        except ValueError:  # "ndarray is not C-contiguous": a strided view
            return _encode(np.ascontiguousarray(pcm))
    return _encode(pcm.astype(PCM16_LE))  # pragma: no cover - big-endian hosts


def _pcm16_from_writable(data: bytearray) -> np.ndarray:
    """Freshly decoded pcm16 bytes (owned by nobody else) as an int16 array over the same memory."""
    if len(data) & 1:
        del data[-1]  # half a sample
    if _NATIVE_LE:
        return np.frombuffer(data, dtype=np.int16)
    return np.frombuffer(data, dtype=PCM16_LE).astype(np.int16)  # pragma: no cover - big-endian hosts


def base64_to_pcm16(text: Base64Text) -> np.ndarray:
    """Decode base64 text of pcm16 little-endian bytes to a new, writeable int16 array.

    An odd trailing byte (half a sample) is dropped.

    Raises:
        TypeError: ``text`` is not str or bytes.
        ValueError: ``text`` is not valid base64.
    """
    try:
        data = _decode_writable(_checked(text))
    except (binascii.Error, ValueError) as exc:
        raise _invalid(exc) from None
    return _pcm16_from_writable(data)


def encode_audio(samples: AudioLike, audio_format: str = "pcm16") -> str:
    """Encode samples as base64 text of the wire bytes of ``audio_format``.

    ``samples`` (anything :func:`to_pcm16` accepts) must already be at the
    format's sample rate (:func:`sample_rate`); use :func:`resample` first if
    not. For G.711 each sample becomes one byte.

    Raises:
        ConfigurationError: unknown ``audio_format``.
        TypeError, ValueError: as :func:`to_pcm16`.
    """
    if audio_format == "pcm16":
        return pcm16_to_base64(samples)
    check_format(audio_format)
    pcm = pcm16_view(samples)
    return _encode(ulaw_encode(pcm) if audio_format == "g711_ulaw" else alaw_encode(pcm))


def decode_audio(text: Base64Text, audio_format: str = "pcm16") -> np.ndarray:
    """Decode base64 wire audio of ``audio_format`` to a new, writeable int16 array.

    The samples stay at the format's rate (24 kHz pcm16, 8 kHz G.711).

    Raises:
        ConfigurationError: unknown ``audio_format``.
        TypeError: ``text`` is not str or bytes.
        ValueError: ``text`` is not valid base64.
    """
    if audio_format == "pcm16":  # the hot path: every response.audio.delta
        return base64_to_pcm16(text)
    check_format(audio_format)
    try:
        data = _decode(_checked(text))
    except (binascii.Error, ValueError) as exc:
        raise _invalid(exc) from None
    return ulaw_decode(data) if audio_format == "g711_ulaw" else alaw_decode(data)
