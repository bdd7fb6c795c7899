"""The exception hierarchy of realtime_sync.

Every exception the library raises on purpose derives from
:class:`RealtimeError`, so ``except RealtimeError`` catches them all. Where a
builtin exception means the same thing, the class derives from it as well, so
code written against the builtins keeps working::

    RealtimeError
     +-- RealtimeConnectionError (ConnectionError)   the socket could not be used
     |    +-- AuthenticationError                     HTTP 401/403 at the handshake
     |    +-- HandshakeError                          any other HTTP status at the handshake
     |    +-- NotConnectedError                       an operation needs a connection
     |    |    +-- ReconnectingError                  ... and the client is reconnecting after a drop
     |    +-- ConnectionClosedError                   the connection ended while waiting
     +-- RealtimeTimeoutError (TimeoutError)         a blocking call ran out of time
     +-- ProtocolError (ValueError)                  a server event is malformed or unexpected
     |    +-- UnknownItemError (KeyError)             an event names an item or response we do not know
     +-- ServerError                                 the server sent an ``error`` event
     +-- ConfigurationError (ValueError)             the caller asked for something invalid
     |    +-- InsecureTransportError                  an API key would travel over plain ws://
     |    +-- AudioFormatError                        audio data is malformed or in an unread encoding
     +-- ToolError                                   a registered tool failed or timed out
     +-- AudioUnavailableError (ImportError)         pyaudio / PortAudio cannot be loaded
     +-- AudioDeviceError (OSError)                  a sound device is missing, refuses, or failed

Messages say what failed and what to try. They never contain the API key.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = [
    "RealtimeError",
    "RealtimeConnectionError",
    "AuthenticationError",
    "HandshakeError",
    "NotConnectedError",
    "ReconnectingError",
    "ConnectionClosedError",
    "RealtimeTimeoutError",
    "ProtocolError",
    "UnknownItemError",
    "ServerError",
    "ConfigurationError",
    "InsecureTransportError",
    "ToolError",
    "AudioUnavailableError",
    "AudioDeviceError",
    "AudioFormatError",
]


class RealtimeError(Exception):
    """Root of every exception raised by realtime_sync."""


class RealtimeConnectionError(RealtimeError, ConnectionError):
    """The WebSocket connection could not be opened or used."""


class HandshakeError(RealtimeConnectionError):
    """The server answered the WebSocket handshake with an HTTP error status.

    Attributes:
        status_code: the HTTP status the server sent.
        body: the response body as text (often an OpenAI JSON error), or ``""``.
    """

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class AuthenticationError(HandshakeError):
    """The server refused the credentials (HTTP 401 or 403)."""


class NotConnectedError(RealtimeConnectionError):
    """An operation needs an open connection and there is none."""


class ReconnectingError(NotConnectedError):
    """A send or a wait while the client reconnects after a drop (``reconnect=``); nothing was sent.

    Attributes:
        attempt: the reconnection attempt under way (1-based).
        attempts: how many attempts the policy allows.
        cause: what ended the last connection ("the connection dropped (...)",
            "the session expired").
    """

    def __init__(
        self, message: str, *, attempt: Optional[int] = None, attempts: Optional[int] = None, cause: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.attempt = attempt
        self.attempts = attempts
        self.cause = cause


class ConnectionClosedError(RealtimeConnectionError):
    """The connection ended while a call was waiting on it.

    Attributes:
        code: the WebSocket close code, when known.
        reason: the close reason, when known.
    """

    def __init__(
        self, message: str, *, code: Optional[int] = None, reason: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class RealtimeTimeoutError(RealtimeError, TimeoutError):
    """A blocking call did not finish within its timeout (seconds)."""


class ProtocolError(RealtimeError, ValueError):
    """A server event is malformed, or arrived where the protocol does not allow it.

    Attributes:
        event: the offending event (a dict), or ``None`` if it could not be parsed.
    """

    def __init__(self, message: str, *, event: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.event = event


class UnknownItemError(ProtocolError, KeyError):
    """An event names an item or a response that the conversation does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ServerError(RealtimeError):
    """The server sent an ``error`` event.

    Attributes:
        error: the server's ``error`` object (``type``, ``code``, ``message``,
            ``param``, ``event_id``), as received.
        code: shortcut for ``error.get("code")``.
        event_id: the id of the client event that caused it, when the server names one.
    """

    def __init__(self, error: Dict[str, Any]) -> None:
        self.error: Dict[str, Any] = dict(error or {})
        self.code: Optional[str] = self.error.get("code")
        self.event_id: Optional[str] = self.error.get("event_id")
        message = self.error.get("message") or "the server reported an error"
        kind = self.error.get("type") or "error"
        detail = f" ({self.code})" if self.code else ""
        super().__init__(f"{kind}{detail}: {message}")


class ConfigurationError(RealtimeError, ValueError):
    """An argument or a session setting is invalid."""


class InsecureTransportError(ConfigurationError):
    """An API key would be sent in clear text over ``ws://`` to a remote host."""


class ToolError(RealtimeError):
    """Raised by a tool handler to tell the model the call failed, in its own words.

    The message becomes the call's output, ``{"error": "<message>"}``, and is
    logged at INFO without a traceback: an expected failure ("no such city"),
    unlike any other exception a handler raises, which is logged with its
    traceback as a bug before its text is sent the same way.
    """


class AudioUnavailableError(RealtimeError, ImportError):
    """Audio devices need pyaudio and PortAudio, and they cannot be loaded.

    Install PortAudio (``portaudio19-dev`` on Debian/Ubuntu, ``brew install
    portaudio`` on macOS), then ``pip install "realtime_sync[audio]"``.
    """


class AudioDeviceError(RealtimeError, OSError):
    """A sound device is missing, rejects the requested format, or failed mid-stream."""


class AudioFormatError(ConfigurationError):
    """Audio data cannot be read: a malformed WAV file, or an encoding that is not read.

    Raised by :func:`realtime_sync.audio.read_wav` for any file it cannot
    read, whatever is wrong inside it. A :class:`ConfigurationError` (and so a
    ``ValueError``), as such files were reported before this class existed.
    """
