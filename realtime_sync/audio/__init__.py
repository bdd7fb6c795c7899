"""PCM audio helpers for the Realtime API, in numpy.

The Realtime API moves audio as base64 text inside JSON events, in one of three
wire formats (:data:`AUDIO_FORMATS`):

* ``"pcm16"``: signed 16-bit little-endian samples, 24 kHz, mono;
* ``"g711_ulaw"`` and ``"g711_alaw"``: one G.711 byte per sample, 8 kHz, mono.

Inside the library, audio is always a 1-D ``numpy.int16`` array of mono
samples (native byte order). This module converts between that and everything
else: base64 text, floats in ``[-1, 1]``, G.711 bytes, other sample rates and
WAV files.

Conventions:

* float <-> int16 scaling uses 32768 both ways: ``int16 = clip(rint(x * 32768),
  -32768, 32767)`` and ``x = int16 / 32768``. So ``-1.0`` maps to ``-32768``,
  ``+1.0`` clips to ``32767``, and int16 -> float -> int16 is exact.
* Byte strings of pcm16 are little-endian whatever the host; an odd trailing
  byte (half a sample) is dropped.
* G.711 is bit-exact with the classic Sun reference code that CPython's
  ``audioop`` used (``lin2ulaw``/``ulaw2lin``/``lin2alaw``/``alaw2lin`` with
  width 2), so this module replaces ``audioop`` on Python 3.13+.

The functions, by job:

* wire format: :data:`AUDIO_FORMATS`, :func:`sample_rate`,
  :func:`encode_audio`, :func:`decode_audio`;
* pcm16: :func:`to_pcm16`, :func:`pcm16_to_base64`, :func:`base64_to_pcm16`,
  :func:`float_to_pcm16`, :func:`pcm16_to_float`;
* G.711: :func:`ulaw_encode`, :func:`ulaw_decode`, :func:`alaw_encode`,
  :func:`alaw_decode`;
* sample rates: :func:`resample` (one buffer) and :class:`Resampler` (a
  stream of chunks);
* files: :func:`read_wav`, :func:`write_wav`.

Every function here is pure (no shared state) and safe to call from any
thread, including the socket thread; none blocks (only the WAV functions do
I/O). A :class:`Resampler` holds the state of one stream and is used from one
thread at a time.

Base64 goes through ``pybase64`` (SIMD; the ``fast`` extra) when it is
installed, else through the standard library; both give the same text and
the same errors. :data:`BASE64_BACKEND` says which one is in use.

Layout: this package is the public face (import from ``realtime_sync.audio``);
its private modules import only downward: ``_pcm`` (formats, conversions to
int16), ``_g711`` and ``_resample`` and ``_wav`` (over ``_pcm``), ``_wire``
(base64 wire audio, over ``_pcm`` and ``_g711``).

Example::

    samples, rate = read_wav("question.wav")          # int16, any rate, mono
    samples = resample(samples, rate, sample_rate("pcm16"))
    event = {"type": "input_audio_buffer.append", "audio": encode_audio(samples)}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from ._formats import AUDIO_FORMATS, sample_rate

if TYPE_CHECKING:
    from ._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
    from ._pcm import AudioLike as AudioLike  # type aliases for annotations
    from ._pcm import float_to_pcm16, pcm16_to_float, to_pcm16
    from ._resample import Resampler, resample
    from ._wav import WavTarget as WavTarget
    from ._wav import read_wav, write_wav
    from ._wire import BASE64_BACKEND, base64_to_pcm16, decode_audio, encode_audio, pcm16_to_base64

__all__ = [
    "AUDIO_FORMATS",
    "BASE64_BACKEND",
    "sample_rate",
    "to_pcm16",
    "float_to_pcm16",
    "pcm16_to_float",
    "pcm16_to_base64",
    "base64_to_pcm16",
    "encode_audio",
    "decode_audio",
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "resample",
    "Resampler",
    "read_wav",
    "write_wav",
]

# The names that need numpy are imported on first use (PEP 562): checking a
# format or a rate does not import numpy; the first conversion does, once.
_EXPORTS: Dict[str, str] = {
    "alaw_decode": "._g711",
    "alaw_encode": "._g711",
    "ulaw_decode": "._g711",
    "ulaw_encode": "._g711",
    "AudioLike": "._pcm",
    "float_to_pcm16": "._pcm",
    "pcm16_to_float": "._pcm",
    "to_pcm16": "._pcm",
    "Resampler": "._resample",
    "resample": "._resample",
    "WavTarget": "._wav",
    "read_wav": "._wav",
    "write_wav": "._wav",
    "BASE64_BACKEND": "._wire",
    "base64_to_pcm16": "._wire",
    "decode_audio": "._wire",
    "encode_audio": "._wire",
    "pcm16_to_base64": "._wire",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on: no lookup cost on hot paths
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
