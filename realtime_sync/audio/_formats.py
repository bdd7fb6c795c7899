"""The Realtime API's audio formats and their rates (private; see :mod:`realtime_sync.audio`).

No numpy here: checking a session's formats must not import it.
"""

from __future__ import annotations

from ..errors import ConfigurationError

__all__ = ["AUDIO_FORMATS", "check_format", "sample_rate"]

#: The audio formats of the Realtime API, as named in ``session.update``.
AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")

_SAMPLE_RATES = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}


def sample_rate(audio_format: str) -> int:
    """Return the sample rate in Hz of a Realtime API audio format.

    ``"pcm16"`` is 24000 Hz; ``"g711_ulaw"`` and ``"g711_alaw"`` are 8000 Hz.

    Raises:
        ConfigurationError: ``audio_format`` is not one of :data:`AUDIO_FORMATS`.
    """
    try:
        return _SAMPLE_RATES[audio_format]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown audio format {audio_format!r}; expected one of {', '.join(AUDIO_FORMATS)}"
        ) from None


def check_format(audio_format: str) -> str:
    sample_rate(audio_format)
    return audio_format
