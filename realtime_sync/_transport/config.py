"""What a connection is made from: the endpoint and its credentials, the limits, the listeners.

:class:`ConnectionConfig` checks and keeps the arguments of
:class:`realtime_sync.api.RealtimeAPI` that say where and how to connect (the
URL, the key, extra headers and query, the proxy, the time and size limits)
and refuses a key that would travel in clear text. For each ``connect()`` it
gives the URL to open, the handshake headers, the :class:`~.failures.Attempt`
that names the attempt in error messages and the :class:`Timing`; a
:class:`~.connection.Connection` is made from those and its
:class:`Listeners`.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigurationError, ConnectionClosedError, InsecureTransportError
from .failures import Attempt
from .proxy import environment_proxy, proxy_options
from .secrets import REDACTED, SECRET_HEADERS, Redactor, Secret, redact_url, secret_query_values
from .urls import Endpoint, check_headers, check_query, has_line_break, header_lines, is_loopback, key_header_name

if TYPE_CHECKING:
    import ssl  # an annotation: the first connect() imports it

__all__ = ["ConnectionConfig", "Listeners", "Timing", "IO_TIMEOUT", "is_number"]

#: Write timeout (and, without pings, the default frame deadline) in seconds.
IO_TIMEOUT = 30.0

EventListener = Callable[[Dict[str, Any]], None]
CloseListener = Callable[[Dict[str, Any], ConnectionClosedError], None]


def is_number(value: object) -> bool:
    """A finite int or float (not a bool): infinity and NaN are no number of seconds."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Listeners:
    """The callables a :class:`Connection` reports to (all on the receive thread)."""

    __slots__ = ("on_event", "on_error", "on_close", "on_open")

    def __init__(
        self,
        on_event: EventListener,
        on_error: EventListener,
        on_close: CloseListener,
        on_open: Optional[Callable[[], None]] = None,
    ) -> None:
        self.on_event = on_event
        self.on_error = on_error
        self.on_close = on_close
        self.on_open = on_open


class Timing:
    """The time limits of a connection, in seconds (``None``/0: none).

    Attributes:
        connect: DNS, TCP, proxy, TLS and the HTTP handshake together.
        ping_interval: seconds between the pings the receive thread sends.
        ping_timeout: how long a ping may wait for its pong.
        frame_timeout: how long a message may take from its first byte to its last.
        max_frame_size: the largest message accepted, in bytes.
    """

    __slots__ = ("connect", "ping_interval", "ping_timeout", "frame_timeout", "max_frame_size")

    def __init__(
        self,
        connect: Optional[float],
        ping_interval: float,
        ping_timeout: Optional[float],
        frame_timeout: Optional[float],
        max_frame_size: Optional[int],
    ) -> None:
        self.connect = connect
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.frame_timeout = frame_timeout
        self.max_frame_size = max_frame_size

    @property
    def io_timeout(self) -> float:
        """The open socket's write timeout: ``ping_interval + ping_timeout``, else :data:`IO_TIMEOUT`."""
        if self.ping_interval and self.ping_timeout:
            return self.ping_interval + self.ping_timeout
        return IO_TIMEOUT


class ConnectionConfig:
    """Where and how a :class:`~realtime_sync.api.RealtimeAPI` connects (see its arguments).

    Raises:
        ConfigurationError: an argument is invalid.
        InsecureTransportError: a key would travel over ``ws://`` to a host that
            is not loopback (or through a proxy that is not).
    """

    def __init__(
        self,
        url: object,
        api_key: Optional[str],
        *,
        headers: Optional[Mapping[str, Optional[str]]],
        query: Optional[Mapping[str, str]],
        ping_interval: Optional[float],
        ping_timeout: Optional[float],
        frame_timeout: Optional[float],
        max_frame_size: Optional[int],
        ssl_context: Optional[ssl.SSLContext],
        proxy: Optional[str],
    ) -> None:
        if not isinstance(url, str):
            raise ConfigurationError(f"url must be a str, not {type(url).__name__}")
        self.endpoint = Endpoint(url, redact_url(url))
        self.base_url = Secret(url)  # its query or user info may hold a credential
        url_parts = urlsplit(url)
        found = secret_query_values(parse_qsl(url_parts.query, keep_blank_values=True))
        if url_parts.password:
            found.append(Secret(url_parts.password))
            found.append(Secret(unquote(url_parts.password)))

        #: The environment variable the key came from, or ``None``.
        self.key_env: Optional[str] = None
        env_name = self.endpoint.key_env()
        if api_key is None and env_name is not None:
            api_key = os.environ.get(env_name) or None
            if api_key is not None:
                self.key_env = env_name
        if api_key is not None:
            if not isinstance(api_key, str):
                raise ConfigurationError(f"api_key must be a str, not {type(api_key).__name__}")
            if not api_key.strip() or has_line_break(api_key):
                raise ConfigurationError("api_key is empty or contains a line break")
        self.api_key = Secret(api_key) if api_key else None
        if self.api_key is not None:
            found.append(self.api_key)

        self.extra_headers = check_headers(headers, found)
        self.query = check_query(query)
        found.extend(secret_query_values(self.query))

        self.proxy_options, proxy_secrets, self.proxy_shown = proxy_options(proxy)
        found.extend(proxy_secrets)
        #: Masks every credential above in the texts a connection reports.
        self.redactor = Redactor(found)
        self._check_transport([s for s in found if s not in proxy_secrets])

        if ping_interval is not None and (not is_number(ping_interval) or ping_interval < 0):
            raise ConfigurationError("ping_interval must be None or a number of seconds >= 0")
        if ping_timeout is not None and (not is_number(ping_timeout) or ping_timeout <= 0):
            raise ConfigurationError("ping_timeout must be None or a number of seconds > 0")
        if ping_interval and ping_timeout and ping_timeout >= ping_interval:
            raise ConfigurationError("ping_timeout must be shorter than ping_interval")
        if frame_timeout is not None and (not is_number(frame_timeout) or frame_timeout <= 0):
            raise ConfigurationError("frame_timeout must be None or a number of seconds > 0")
        if max_frame_size is not None and (
            not isinstance(max_frame_size, int) or isinstance(max_frame_size, bool) or max_frame_size <= 0
        ):
            raise ConfigurationError("max_frame_size must be None or a positive number of bytes")
        self._ping_interval = float(ping_interval or 0)
        self._ping_timeout = float(ping_timeout) if ping_timeout else None
        self._frame_timeout = float(frame_timeout) if frame_timeout else None
        self._max_frame_size = max_frame_size
        self.ssl_context = ssl_context

    def _check_transport(self, endpoint_secrets: List[Secret]) -> None:
        """Refuse credentials that would cross the network in clear text."""
        endpoint = self.endpoint
        if endpoint_secrets and not endpoint.secure and not is_loopback(endpoint.host):
            raise InsecureTransportError(
                f"refusing to send an API key in clear text over ws:// to {endpoint.host!r}; "
                "use wss://, or a loopback host (127.0.0.1, localhost) for local servers"
            )
        if endpoint_secrets and not endpoint.secure:
            # a loopback server reached through a proxy on another host: the
            # handshake crosses the network to that proxy in clear text
            via = self.proxy_shown or environment_proxy(endpoint.host, False)
            via_host = urlsplit(via).hostname if via else None
            if via_host and not is_loopback(via_host):
                raise InsecureTransportError(
                    f"refusing to send an API key in clear text over ws:// through the proxy {via!r}; "
                    "use wss://, or reach the local server without the proxy (set no_proxy)"
                )

    @property
    def url(self) -> str:
        """The URL given, with credentials in it masked."""
        return redact_url(self.base_url.reveal())

    def target(self, model: Optional[str], protocol: str) -> Tuple[Secret, Optional[str]]:
        """The URL to open (it may hold a key) and the model (deployment) it names."""
        return self.endpoint.build(self.base_url, self.query, model, protocol)

    def header_lines(self, protocol: str) -> List[str]:
        """The handshake header lines (they hold the key: never log or keep them)."""
        return header_lines(self.endpoint, self.api_key, protocol, self.extra_headers)

    def shown_headers(self, protocol: str) -> Dict[str, str]:
        """The handshake headers with credentials masked, for logs."""
        shown = {}
        for line in self.header_lines(protocol):
            name, value = line.split(": ", 1)
            shown[name] = REDACTED if name.lower() in SECRET_HEADERS else value
        return shown

    def attempt(self, timeout: Optional[float]) -> Attempt:
        """What a connection attempt is, for its error messages."""
        endpoint = self.endpoint
        return Attempt(
            self.url,
            endpoint.where,
            timeout,
            key_header=key_header_name(endpoint, self.api_key is not None, self.extra_headers),
            key_env=self.key_env if self.api_key is not None else None,
            proxy=self.proxy_shown or environment_proxy(endpoint.host, endpoint.secure),
        )

    def timing(self, timeout: Optional[float]) -> Timing:
        """The limits of a connection opened within ``timeout`` seconds."""
        return Timing(timeout, self._ping_interval, self._ping_timeout, self._frame_timeout, self._max_frame_size)
