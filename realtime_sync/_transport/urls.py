"""Endpoint rules: which server a URL names, the URL a connection opens, its headers.

Three kinds of endpoint, told apart by the host and path:

* OpenAI (``api.openai.com``): GA by default, ``model=`` in the query,
  ``Authorization: Bearer <key>``, the key from ``OPENAI_API_KEY`` when none
  is given.
* Azure OpenAI (``<resource>.openai.azure.com``,
  ``<resource>.cognitiveservices.azure.com``): the key goes in an ``api-key``
  header, and comes from ``AZURE_OPENAI_API_KEY`` when none is given. The GA
  path ``/openai/v1/realtime`` speaks GA and takes the *deployment* name as
  ``model=``; the older ``/openai/realtime?api-version=...&deployment=...``
  speaks beta and gets no ``model=`` (a model passed to ``connect()`` becomes
  ``deployment=`` when the URL names none).
* Anything else (relays, the simulator, test servers): ``model=`` in the
  query, a key only when one is given (``Authorization: Bearer``). Its
  dialect follows the path: a server at OpenAI's GA path ``/v1/realtime``
  (as the simulator's :attr:`~realtime_sync.simulator.RealtimeSimulator.url`
  is, and relays that mirror OpenAI's API are) speaks GA; any other path
  (``ws://host:port``, a relay's own route) speaks the original beta
  dialect of the reference client.

``protocol=`` always wins over these defaults.
"""

from __future__ import annotations

import ipaddress
from typing import Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .. import dialects
from ..errors import ConfigurationError
from .secrets import SECRET_HEADERS, Secret

__all__ = [
    "Endpoint",
    "is_loopback",
    "header_lines",
    "check_headers",
    "check_query",
    "has_line_break",
    "key_header_name",
    "OPENAI",
    "AZURE_GA",
    "AZURE_DEPLOYMENT",
    "OTHER",
    "GA_PATH",
]

OPENAI = "openai"
AZURE_GA = "azure-ga"
AZURE_DEPLOYMENT = "azure-deployment"
OTHER = "other"

#: OpenAI's GA endpoint path; other servers at this path default to GA too.
GA_PATH = "/v1/realtime"

_OPENAI_HOSTS = frozenset({"api.openai.com"})
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, brackets allowed) is this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Endpoint:
    """What a ``ws://`` or ``wss://`` URL says about the server it names.

    Raises:
        ConfigurationError: not a ``ws``/``wss`` URL with a host.
    """

    __slots__ = ("host", "port", "secure", "kind", "path")

    def __init__(self, url: str, redacted: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ConfigurationError(f"url must look like wss://host/path or ws://host:port/path, got {redacted!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"url has an invalid port: {redacted!r}") from exc
        self.host: str = parts.hostname.lower()
        self.secure: bool = parts.scheme == "wss"
        self.port: int = port or (443 if self.secure else 80)
        self.path: str = parts.path
        self.kind: str = _kind(self.host, parts.path)

    @property
    def is_openai(self) -> bool:
        return self.kind == OPENAI

    @property
    def is_azure(self) -> bool:
        return self.kind in (AZURE_GA, AZURE_DEPLOYMENT)

    @property
    def where(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"

    def default_protocol(self) -> str:
        """The dialect spoken when ``protocol=`` is not given (see the module docs).

        GA for OpenAI, Azure's ``/openai/v1/realtime`` and any server at
        OpenAI's GA path ``/v1/realtime``; beta for Azure's deployment URLs and
        other paths.
        """
        if self.kind == OTHER:
            return "ga" if ("/" + self.path.strip("/")).endswith(GA_PATH) else "beta"
        return "beta" if self.kind == AZURE_DEPLOYMENT else "ga"

    def key_env(self) -> Optional[str]:
        """The environment variable the key defaults to, or ``None`` (then no key unless given)."""
        if self.kind == OPENAI:
            return "OPENAI_API_KEY"
        if self.is_azure:
            return "AZURE_OPENAI_API_KEY"
        return None

    def key_header(self) -> str:
        """The header ``api_key=`` travels in: ``api-key`` for Azure, ``Authorization`` otherwise."""
        return "api-key" if self.is_azure else "Authorization"

    def build(
        self, base: Secret, extra_query: Sequence[Tuple[str, str]], model: Optional[str], protocol: str
    ) -> Tuple[Secret, Optional[str]]:
        """The URL to open (a :class:`Secret`: its query may hold a key) and the model it names.

        ``extra_query`` replaces parameters of the same name in the URL.
        ``model`` replaces the URL's ``model`` (Azure's deployment form: its
        ``deployment``, added only when the URL has none); ``None`` keeps the
        URL's, adds none when the query has an ``intent`` (OpenAI's
        ``?intent=transcription``) or a ``call_id`` (a SIP call's session),
        and otherwise asks for the dialect's default model. Azure's GA
        path has no default: its ``model`` is a deployment name.

        Raises:
            ConfigurationError: an Azure GA URL and no deployment named.
        """
        parts = urlsplit(base.reveal())
        names = {name for name, _ in extra_query}
        query = [(n, v) for n, v in parse_qsl(parts.query, keep_blank_values=True) if n not in names]
        query.extend(extra_query)
        if self.kind == AZURE_DEPLOYMENT:
            named = [v for n, v in query if n == "deployment"]
            if not named and model is not None:
                query.append(("deployment", model))
                named = [model]
            return Secret(urlunsplit(parts._replace(query=urlencode(query)))), (named[-1] if named else None)
        if model is None:
            named = [v for n, v in query if n == "model"]
            if named:
                return Secret(urlunsplit(parts._replace(query=urlencode(query)))), named[-1]
            if any(n in ("intent", "call_id") for n, _ in query):
                # ``?intent=transcription`` names the session, ``?call_id=`` a call's session: no model is asked for
                return Secret(urlunsplit(parts._replace(query=urlencode(query)))), None
            if self.kind == AZURE_GA:
                raise ConfigurationError(
                    f"no deployment for the Azure endpoint {self.host}: pass the deployment name as "
                    "connect(model='<deployment>') (RealtimeClient(model=...)) or put ?model=<deployment> "
                    "in the URL"
                )
            model = dialects.default_model(protocol)
        query = [(n, v) for n, v in query if n != "model"]
        query.append(("model", model))
        return Secret(urlunsplit(parts._replace(query=urlencode(query)))), model


def _kind(host: str, path: str) -> str:
    if host in _OPENAI_HOSTS:
        return OPENAI
    if host.endswith(_AZURE_SUFFIXES):
        normalized = "/" + path.strip("/")
        if normalized.startswith("/openai/realtime"):
            return AZURE_DEPLOYMENT
        return AZURE_GA
    return OTHER


def header_lines(
    endpoint: Endpoint,
    api_key: Optional[Secret],
    protocol: str,
    extra: Dict[str, object],
) -> List[str]:
    """The handshake header lines, in order (they hold the key: never log or keep them).

    ``extra`` maps names to ``str``, :class:`Secret` or ``None`` (``None``
    removes a default header such as ``OpenAI-Beta``); names compare
    case-insensitively.
    """
    headers: Dict[str, object] = {}
    if api_key is not None:
        if endpoint.is_azure:
            headers["api-key"] = api_key
        else:
            headers["Authorization"] = Secret("Bearer " + api_key.reveal())
    headers.update(dialects.handshake_headers(protocol))
    lowered = {name.lower(): name for name in headers}
    for name, value in extra.items():
        existing = lowered.get(name.lower())
        if existing is not None:
            del headers[existing]
        if value is not None:
            headers[name] = value
    return [f"{name}: {value.reveal() if isinstance(value, Secret) else value}" for name, value in headers.items()]


def has_line_break(text: str) -> bool:
    """Whether ``text`` could split a header line (CR, LF or NUL)."""
    return "\r" in text or "\n" in text or "\0" in text


def check_headers(headers: Optional[Mapping[str, Optional[str]]], found: List[Secret]) -> Dict[str, object]:
    """The ``headers=`` argument checked, credentials wrapped (and added to ``found``).

    Raises:
        ConfigurationError: a name or value that is not a str, or could split the request.
    """
    checked: Dict[str, object] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not name or has_line_break(name) or ":" in name:
            raise ConfigurationError(f"invalid header name {name!r}")
        stored: object = value
        if value is not None:
            if not isinstance(value, str) or has_line_break(value):
                raise ConfigurationError(f"header {name!r} must be a str without line breaks")
            if name.lower() in SECRET_HEADERS:
                stored = Secret(value)
                found.append(Secret(value))
                if value.lower().startswith("bearer "):
                    found.append(Secret(value[7:].strip()))
        checked[name] = stored
    return checked


def check_query(query: Optional[Mapping[str, str]]) -> List[Tuple[str, str]]:
    """The ``query=`` argument as pairs.

    Raises:
        ConfigurationError: a name or value that is not a str.
    """
    pairs: List[Tuple[str, str]] = []
    for name, value in (query or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigurationError("query names and values must be str")
        pairs.append((name, value))
    return pairs


def key_header_name(endpoint: Endpoint, has_api_key: bool, extra: Dict[str, object]) -> Optional[str]:
    """The header the key travels in, for error hints (``None``: no key in a header)."""
    if has_api_key:
        return endpoint.key_header()
    for name, value in extra.items():
        if isinstance(value, Secret) and name.lower() in ("authorization", "api-key", "x-api-key", "openai-api-key"):
            return name
    return None
