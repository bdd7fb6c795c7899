"""Credentials that never show themselves, and masking of everything that could carry one.

A :class:`Secret` prints as ``[secure]`` (in reprs, ``str()`` and the locals a
traceback captures); only :meth:`Secret.reveal` gives the value, at the moment
it is written to the socket. :class:`Redactor` masks every secret a
connection holds in text (log lines, close reasons, HTTP bodies) and in
server ``error`` events, where a server may echo a key back.
"""

from __future__ import annotations

import json
import traceback
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_QUERY",
    "Secret",
    "Redactor",
    "redact_url",
    "secret_query_values",
    "clear_traceback",
    "summarize_event",
]

#: What a masked credential looks like.
REDACTED = "[secure]"
#: Header names (lower case) whose values are credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "openai-api-key", "cookie"}
)
#: Query parameter names (lower case) whose values are credentials.
SECRET_QUERY = frozenset(
    {"api-key", "api_key", "apikey", "key", "token", "access_token", "sig", "signature", "password",
     "secret", "client_secret", "auth", "authorization"}
)


class Secret:
    """A credential that never shows itself in a repr, a message or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: call it only where it is written to the socket."""
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__


class Redactor:
    """Masks a fixed set of secrets in text and in nested JSON values (any thread)."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[Secret]) -> None:
        # longest first, so a key that contains another is masked whole
        self._secrets: Tuple[Secret, ...] = tuple(
            sorted((s for s in secrets if s.reveal()), key=lambda s: -len(s.reveal()))
        )

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``[secure]``."""
        for secret in self._secrets:
            value = secret.reveal()
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def holds_secret(self, text: str) -> bool:
        return any(secret.reveal() in text for secret in self._secrets)

    def value(self, value: Any, depth: int = 0) -> Any:
        """A copy of a JSON value with the secrets in its strings masked.

        Values without a secret are returned as they are (no copy); nesting
        deeper than 64 levels is returned unchanged below that depth.
        """
        if isinstance(value, str):
            return self.text(value)
        if depth > 64:
            return value
        if isinstance(value, dict):
            masked = {self.text(k) if isinstance(k, str) else k: self.value(v, depth + 1) for k, v in value.items()}
            if all(masked.get(k, _MISSING) is v for k, v in value.items()):
                return value
            return masked
        if isinstance(value, list):
            items = [self.value(v, depth + 1) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value
            return items
        return value


_MISSING = object()


def secret_query_values(pairs: Sequence[Tuple[str, str]]) -> List[Secret]:
    """The credentials among query parameters (``api-key=``, ``token=``, ...)."""
    return [Secret(value) for name, value in pairs if name.lower() in SECRET_QUERY and value]


def redact_url(url: str) -> str:
    """``url`` with credentials in its user info or query masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_QUERY for name, _ in pairs):
            query = urlencode([(n, REDACTED if n.lower() in SECRET_QUERY else v) for n, v in pairs])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def clear_traceback(exc: Optional[BaseException]) -> None:
    """Drop the locals of every finished frame ``exc`` and its chain went through.

    websocket-client's frames hold the handshake headers (the key); an error
    reporter that captures locals must find none of them.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def summarize_event(event: Mapping[str, Any]) -> str:
    """A short, audio-free rendering of an event for debug logs."""
    shown: Dict[str, Any] = {}
    event_type = str(event.get("type", ""))
    for name, value in event.items():
        if name in ("type", "event_id"):
            continue
        if isinstance(value, str) and (
            name == "audio" or (name == "delta" and "audio" in event_type and "transcript" not in event_type)
        ):
            shown[name] = f"<{len(value)} base64 chars>"
        else:
            shown[name] = value
    try:
        text = json.dumps(shown, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(shown)
    return text if len(text) <= 500 else text[:500] + "..."
