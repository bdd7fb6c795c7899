"""The proxy a connection goes through: an explicit ``proxy=`` URL, or the environment's.

websocket-client opens the tunnel (HTTP ``CONNECT``, or SOCKS with the
``python-socks`` package); this module turns ``proxy="http://user:pw@host:port"``
into its options, keeps the password out of every message, and names the
proxy the environment selects (``https_proxy`` for ``wss://``, ``http_proxy``
for ``ws://``, minus ``no_proxy``) so that errors can say when the proxy is
what failed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError
from .secrets import Secret, redact_url

__all__ = ["proxy_options", "environment_proxy", "reveal_options"]

_PROXY_TYPES = ("http", "socks4", "socks4a", "socks5", "socks5h")


def proxy_options(proxy: Optional[str]) -> Tuple[Dict[str, Any], List[Secret], Optional[str]]:
    """websocket-client's options for ``proxy=``, the secrets in it, and how to name it."""
    if proxy is None:
        return {}, [], None
    if not isinstance(proxy, str) or not proxy:
        raise ConfigurationError("proxy must be None or a URL such as 'http://proxy.example:3128'")
    try:
        parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"invalid proxy URL {redact_url(proxy)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "https":
        scheme = "http"  # the tunnel is opened with CONNECT over plain TCP either way
    if scheme not in _PROXY_TYPES or not parts.hostname:
        raise ConfigurationError(
            f"invalid proxy URL {redact_url(proxy)!r}: use http://host:port (or socks4/socks4a/socks5/socks5h)"
        )
    port = port or (1080 if scheme.startswith("socks") else 80)
    options: Dict[str, Any] = {"http_proxy_host": parts.hostname, "http_proxy_port": port, "proxy_type": scheme}
    found: List[Secret] = []
    if parts.username is not None:
        password = unquote(parts.password or "")
        options["http_proxy_auth"] = (unquote(parts.username), Secret(password))
        if password:
            found.extend([Secret(password), Secret(parts.password or "")])
    return options, found, f"{scheme}://{parts.hostname}:{port}"


def environment_proxy(host: str, secure: bool) -> Optional[str]:
    """``http://host:port`` of the proxy the environment selects for ``host``, or ``None``."""
    try:
        from websocket._url import get_proxy_info

        proxy_host, port, _ = get_proxy_info(host, secure)
    except Exception:  # websocket-client's helper moved or the variable is malformed
        return None
    if not proxy_host:
        return None
    return f"http://{proxy_host}:{port}" if port else f"http://{proxy_host}"


def reveal_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """``options`` as websocket-client takes them: the proxy password revealed (pass inline)."""
    auth = options.get("http_proxy_auth")
    if auth is None:
        return options
    revealed = dict(options)
    revealed["http_proxy_auth"] = (auth[0], auth[1].reveal() if isinstance(auth[1], Secret) else auth[1])
    return revealed
