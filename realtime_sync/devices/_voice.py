"""VoiceChat: a microphone and a speaker wired to a RealtimeClient (private).

The public name is :class:`realtime_sync.devices.VoiceChat`; see the
package docstring for the threads and what "played" means. Importing this
module does not import pyaudio: the devices open on :meth:`VoiceChat.start`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from ..client import RealtimeClient, ReconnectPolicy
from ..errors import AudioDeviceError, ConfigurationError, ReconnectingError
from ._microphone import ErrorCallback, Microphone
from ._speaker import Speaker

__all__ = ["VoiceChat"]

logger = logging.getLogger(__name__)


class VoiceChat:
    """A spoken conversation: microphone to the model, the model's audio to the speaker.

    Args:
        client: a connected (or about to be connected) ``RealtimeClient``;
            ``None``: VoiceChat makes its own from ``client_options`` (``url``,
            ``api_key``, ``model``...), connects it in :meth:`start` and
            disconnects it in :meth:`stop`.
        microphone: a :class:`Microphone`; default: the default input device
            in the session's input format. VoiceChat takes over its delivery
            (its ``callback`` and ``client`` are set while the chat runs).
        speaker: a :class:`Speaker`; default: the default output device.
        push_to_talk: turn detection off; audio is sent only between
            :meth:`begin_turn` and :meth:`end_turn`, which asks for a response.
        on_error: called once with an :class:`AudioDeviceError` when the
            microphone or the speaker fails while the chat runs (on the thread
            that noticed: the microphone worker or the socket thread).
        reconnect: for the client VoiceChat makes: ``True`` (the default, the
            client's default :class:`~realtime_sync.client.ReconnectPolicy`), a
            policy, or ``False``. A client you pass keeps its own policy.

    With server VAD (the default) the server detects when the user speaks;
    when the user starts speaking over the assistant, the client dispatches
    ``conversation.interrupted`` and VoiceChat stops the speaker and truncates
    the assistant item to what was actually played.

    Threads: microphone chunks are sent from the microphone's worker thread;
    the ``conversation.updated`` and ``conversation.interrupted`` handlers run
    on the client's socket thread and only queue audio or interrupt the
    speaker (which never waits for the device) and send the cancel/truncate.

    While the client reconnects after a drop, microphone audio is dropped
    (nothing is sent) and the speaker stops the reply that was cut off; the
    chat goes on once the client dispatches ``reconnected``.

    Nothing starts in the constructor; :meth:`start` (or ``with``) does.
    Devices (and the client) that VoiceChat created are closed by :meth:`stop`.

    Raises:
        ConfigurationError: ``reconnect`` or client options given with a client.
    """

    def __init__(
        self,
        client: Optional[RealtimeClient] = None,
        microphone: Optional[Microphone] = None,
        speaker: Optional[Speaker] = None,
        *,
        push_to_talk: bool = False,
        on_error: Optional[ErrorCallback] = None,
        reconnect: Union[bool, ReconnectPolicy, None] = None,
        **client_options: Any,
    ) -> None:
        self._own_client = client is None
        if client is None:
            client = RealtimeClient(reconnect=True if reconnect is None else reconnect, **client_options)
        elif reconnect is not None or client_options:
            given = sorted(client_options) + (["reconnect"] if reconnect is not None else [])
            raise ConfigurationError(
                f"{', '.join(given)} configure the client VoiceChat makes; pass them to your RealtimeClient instead"
            )
        self.client = client
        self.on_error = on_error
        self.microphone = microphone
        self.speaker = speaker
        self.push_to_talk = bool(push_to_talk)
        self._own_mic = microphone is None
        self._own_speaker = speaker is None
        self._sending = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self._saved_mic: Optional[Tuple[Any, Any, Any]] = None
        self._error_reported = False

    def _session_formats(self) -> Tuple[str, str]:
        config = getattr(self.client, "session_config", None) or {}
        return (
            str(config.get("input_audio_format") or "pcm16"),
            str(config.get("output_audio_format") or "pcm16"),
        )

    def start(self) -> None:
        """Configure turn detection, hook the client's events and start the devices.

        Raises:
            AudioUnavailableError, AudioDeviceError: as the devices do.
        """
        with self._lock:
            if self._started:
                return
            in_format, out_format = self._session_formats()
            # devices this chat created and closed in stop() are made afresh
            if self._own_speaker and self.speaker is not None and self.speaker._closed:
                self.speaker = None
            if self._own_mic and self.microphone is not None and self.microphone._closed:
                self.microphone = None
            if self.speaker is None:
                self.speaker = Speaker(audio_format=out_format)
            if self.microphone is None:
                self.microphone = Microphone(audio_format=in_format)

            self._check_formats(in_format, out_format)
            if self.push_to_talk:
                self.client.update_session(turn_detection=None)
            elif self.client.get_turn_detection_type() != "server_vad":
                self.client.update_session(turn_detection={"type": "server_vad"})
            # else: keep the caller's server VAD settings (threshold, silence_duration_ms...)
            self._saved_mic = (self.microphone.callback, self.microphone.client, self.microphone.on_error)
            self.microphone.callback = self._on_chunk
            self.microphone.client = None
            if self.microphone.on_error is None:
                self.microphone.on_error = self._report
            self.client.on("conversation.updated", self._on_updated)
            self.client.on("conversation.interrupted", self._on_interrupted)
            self.client.on("reconnecting", self._on_reconnecting)
            try:
                if self._own_client and not self.client.is_connected():
                    self.client.connect()
                self.speaker.start()
                if self.push_to_talk:
                    self._sending.clear()
                else:
                    self._sending.set()
                self.microphone.start()
            except BaseException:
                self._unhook()
                self._sending.clear()
                if self._own_client:
                    self.client.disconnect()
                if self._own_mic:
                    self.microphone.close()
                    self.microphone = None
                if self._own_speaker:
                    self.speaker.close()
                    self.speaker = None
                raise
            self._started = True

    def _check_formats(self, in_format: str, out_format: str) -> None:
        assert self.microphone is not None and self.speaker is not None
        if self.microphone.audio_format != in_format:
            raise ConfigurationError(
                f"the microphone produces {self.microphone.audio_format} but the session's "
                f"input_audio_format is {in_format}"
            )
        if self.speaker.audio_format != out_format:
            raise ConfigurationError(
                f"the speaker plays {self.speaker.audio_format} but the session's "
                f"output_audio_format is {out_format}"
            )

    def stop(self) -> None:
        """Stop the microphone, silence the speaker and unhook from the client. Idempotent."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            self._sending.clear()
            self._unhook()
            if self.microphone is not None:
                if self._own_mic:
                    self.microphone.close()
                else:
                    self.microphone.stop()
            if self.speaker is not None:
                self.speaker.interrupt()
                if self._own_speaker:
                    self.speaker.close()
            if self._own_client:
                self.client.disconnect()

    def _unhook(self) -> None:
        for name, handler in (
            ("conversation.updated", self._on_updated),
            ("conversation.interrupted", self._on_interrupted),
            ("reconnecting", self._on_reconnecting),
        ):
            try:
                self.client.off(name, handler)
            except (ValueError, KeyError):
                pass
        if self.microphone is not None and self._saved_mic is not None:
            self.microphone.callback, self.microphone.client, self.microphone.on_error = self._saved_mic
            self._saved_mic = None

    def __enter__(self) -> "VoiceChat":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- push-to-talk ----------------------------------------------------

    def begin_turn(self) -> None:
        """Push-to-talk: the user starts talking (interrupts the assistant if it is speaking)."""
        if not self.push_to_talk:
            raise ConfigurationError("begin_turn() is for push_to_talk=True; server VAD detects turns itself")
        self._barge_in()
        self._sending.set()

    def end_turn(self, timeout: Optional[float] = 1.0) -> None:
        """Push-to-talk: the user stopped talking; send what was captured and ask for a response.

        Args:
            timeout: seconds to wait for the microphone to deliver its last partial chunk.
        """
        if not self.push_to_talk:
            raise ConfigurationError("end_turn() is for push_to_talk=True; server VAD detects turns itself")
        if self.microphone is not None and self._sending.is_set():
            self.microphone.flush(timeout)
        self._sending.clear()
        self.client.create_response()

    # -- callbacks -----------------------------------------------------

    def _on_chunk(self, chunk: np.ndarray) -> None:
        # microphone worker thread
        if self._sending.is_set():
            try:
                self.client.append_input_audio(chunk)
            except ReconnectingError:  # the client says so once, with its reconnecting event
                logger.debug("microphone audio dropped while the client reconnects")
            except Exception as exc:
                logger.warning("microphone audio not sent: %s", exc)

    def _on_updated(self, event: Dict[str, Any]) -> None:
        # socket thread: only queue the audio
        delta = event.get("delta") or {}
        item = event.get("item") or {}
        audio = delta.get("audio") if isinstance(delta, dict) else None
        if audio is None or len(audio) == 0 or self.speaker is None:
            return
        if item.get("role") not in (None, "assistant"):
            return
        try:
            self.speaker.play(item["id"], audio)
        except AudioDeviceError as exc:
            self._report(exc)

    def _report(self, error: BaseException) -> None:
        if self._error_reported:
            return
        self._error_reported = True
        logger.error("voice chat device failure: %s", error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                logger.exception("VoiceChat on_error callback raised")

    def _on_interrupted(self, event: Dict[str, Any]) -> None:
        # socket thread
        self._barge_in()

    def _on_reconnecting(self, event: Dict[str, Any]) -> None:
        # the reconnection worker: the reply being played was cut off with the connection
        if self.speaker is not None:
            self.speaker.interrupt()

    def _barge_in(self) -> None:
        if self.speaker is None:
            return
        stopped = self.speaker.interrupt()
        if stopped is None:
            return
        item_id, played = stopped
        # samples in the output format's units, as cancel_response expects them
        logger.info("interrupted %s after %d samples (%.0f ms)", item_id, played, played * 1000 / self.speaker.rate)
        try:
            self.client.cancel_response(item_id, played)
        except Exception as exc:
            logger.warning("could not truncate interrupted item %s: %s", item_id, exc)
