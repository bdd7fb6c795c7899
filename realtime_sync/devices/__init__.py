"""Microphone, speaker and a voice-chat helper over pyaudio (the ``audio`` extra).

Install with ``pip install 'realtime_sync[audio]'``; pyaudio needs the PortAudio
library (``apt-get install portaudio19-dev`` on Debian/Ubuntu, ``brew install
portaudio`` on macOS). Importing this package does not import pyaudio: the
first object that needs a sound device does, and a missing pyaudio or
PortAudio raises :class:`AudioUnavailableError` saying what to install.

Threads:

- :class:`Microphone` opens a pyaudio input stream in callback mode. PortAudio
  calls our callback on its own audio thread; the callback only puts the raw
  bytes on a queue. A worker thread of ours (``realtime-sync-mic``) converts
  them to mono int16, resamples them from the device rate to the rate of the
  session's input format (24 kHz for ``pcm16``, 8 kHz for G.711), cuts them
  into chunks of ``chunk_ms`` and hands each chunk to ``callback`` and/or
  ``client.append_input_audio``.
- :class:`Speaker` opens a blocking pyaudio output stream that only its own
  thread (``realtime-sync-speaker``) writes to. :meth:`Speaker.play` just puts
  the samples on a queue, so it is safe to call from the socket thread.
- :class:`VoiceChat` wires both to a :class:`~realtime_sync.client.RealtimeClient`:
  server VAD (or push-to-talk), assistant audio to the speaker, and barge-in
  that truncates the interrupted item where the listener stopped hearing it.

What "played" means. The speaker counts, per item, the samples it has handed
to the device (in the item's own units: 24 kHz samples for ``pcm16``, 8 kHz
samples for G.711, i.e. the server's units, never the device rate). pyaudio
offers no way to discard what the device already holds, so audio handed to
the device is heard even after :meth:`Speaker.interrupt`; at most the output
latency (:attr:`Speaker.output_latency`, typically 10-50 ms) is still in the
device's buffer at any moment, and it plays out right after the interruption.
Counting handed-over samples therefore names the point where the listener
stops hearing the item, within one output latency plus one chunk.

Layout: this package is the public face; import every public name from
``realtime_sync.devices``. Its private modules import only downward:

- ``_portaudio``: the PortAudio plumbing (loading pyaudio, quiet start-up,
  device lookup, rate choice, opening and releasing streams) and
  :func:`list_devices`;
- ``_microphone``: :class:`Microphone` (over ``_portaudio``);
- ``_speaker``: :class:`Speaker` (over ``_portaudio``);
- ``_voice``: :class:`VoiceChat` (over ``_microphone`` and ``_speaker``).

Logs go to child loggers of ``realtime_sync.devices`` (one per module).
"""

from __future__ import annotations

from ..errors import AudioDeviceError, AudioUnavailableError
from ._microphone import ChunkCallback as ChunkCallback  # type aliases for annotations
from ._microphone import ErrorCallback as ErrorCallback
from ._microphone import Microphone
from ._portaudio import DeviceSpec as DeviceSpec
from ._portaudio import list_devices
from ._speaker import Speaker
from ._voice import VoiceChat

__all__ = [
    "AudioUnavailableError",
    "AudioDeviceError",
    "list_devices",
    "Microphone",
    "Speaker",
    "VoiceChat",
]
