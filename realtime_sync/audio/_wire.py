"""Base64 wire audio: :func:`encode_audio`, :func:`decode_audio` and the pcm16 pair (private).

See :mod:`realtime_sync.audio` for the public names.
"""

from __future__ import annotations

import base64
import binascii
from typing import Union

import numpy as np

from ._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._pcm import PCM16_LE, AudioLike, bytes_to_pcm16, check_format, pcm16_view

__all__ = ["pcm16_to_base64", "base64_to_pcm16", "encode_audio", "decode_audio"]

_a2b_base64 = binascii.a2b_base64
_NATIVE_LE = np.dtype(np.int16) == PCM16_LE


def _pcm16_from_decoded(data: bytes) -> np.ndarray:
    """Freshly decoded pcm16 bytes (owned by nobody else) to a new, writeable int16 array."""
    if len(data) & 1:
        data = data[:-1]
    if _NATIVE_LE:
        return np.frombuffer(bytearray(data), dtype=np.int16)
    return np.frombuffer(data, dtype=PCM16_LE).astype(np.int16)



def pcm16_to_base64(samples: AudioLike) -> str:
    """Encode samples as base64 text of pcm16 little-endian bytes.

    ``samples`` is anything :func:`to_pcm16` accepts (normally an int16 array).
    """
    pcm = pcm16_view(samples)
    return base64.b64encode(pcm.astype(PCM16_LE, copy=False).tobytes()).decode("ascii")


def _b64decode(text: Union[str, bytes, bytearray]) -> bytes:
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected base64 text (str or bytes), got {type(text).__name__}")
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 audio: {exc}") from None


def base64_to_pcm16(text: Union[str, bytes, bytearray]) -> np.ndarray:
    """Decode base64 text of pcm16 little-endian bytes to a new int16 array.

    An odd trailing byte (half a sample) is dropped.

    Raises:
        TypeError: ``text`` is not str or bytes.
        ValueError: ``text`` is not valid base64.
    """
    return bytes_to_pcm16(_b64decode(text))


def encode_audio(samples: AudioLike, audio_format: str = "pcm16") -> str:
    """Encode samples as base64 text of the wire bytes of ``audio_format``.

    ``samples`` (anything :func:`to_pcm16` accepts) must already be at the
    format's sample rate (:func:`sample_rate`); use :func:`resample` first if
    not. For G.711 each sample becomes one byte.

    Raises:
        ConfigurationError: unknown ``audio_format``.
        TypeError, ValueError: as :func:`to_pcm16`.
    """
    check_format(audio_format)
    if audio_format == "pcm16":
        return pcm16_to_base64(samples)
    pcm = pcm16_view(samples)
    data = ulaw_encode(pcm) if audio_format == "g711_ulaw" else alaw_encode(pcm)
    return base64.b64encode(data).decode("ascii")


def decode_audio(text: Union[str, bytes, bytearray], audio_format: str = "pcm16") -> np.ndarray:
    """Decode base64 wire audio of ``audio_format`` to a new int16 array.

    The samples stay at the format's rate (24 kHz pcm16, 8 kHz G.711).

    Raises:
        ConfigurationError: unknown ``audio_format``.
        ValueError: ``text`` is not valid base64.
    """
    if audio_format == "pcm16":
        if text.__class__ is str:
            # The hot path (every response.audio.delta): one base64 pass, one copy.
            try:
                data = _a2b_base64(text)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"invalid base64 audio: {exc}") from None
            if _NATIVE_LE and not len(data) & 1:
                return np.frombuffer(bytearray(data), dtype=np.int16)
            return _pcm16_from_decoded(data)
        return base64_to_pcm16(text)
    check_format(audio_format)
    data = _b64decode(text)
    return ulaw_decode(data) if audio_format == "g711_ulaw" else alaw_decode(data)


