"""Keys for end users: a server-side token endpoint, and an app that connects with the secret it hands out.

    python samples/token_server.py                       (both halves; no key: the built-in simulator)
    OPENAI_API_KEY=sk-... python samples/token_server.py --serve --port 8080     (the server half)
    python samples/token_server.py --app http://your-server:8080/token            (the app half)

A desktop or mobile app must never ship the account's API key. Instead:

1. Your server keeps the key and offers a small endpoint (here ``POST /token``,
   stdlib ``http.server``; put your own user authentication in front of it).
   For each request it calls ``create_client_secret()``: OpenAI returns a
   short-lived ``ek_...`` secret bound to a session configuration you choose
   (model, instructions, voice...), valid for ``expires_after`` seconds.
2. The app asks your server for a secret and connects with it as its
   ``api_key``: ``RealtimeClient(api_key=secret)``. The session starts with
   the configuration bound to the secret. An expired or unknown secret is
   refused at the handshake (HTTP 401, ``AuthenticationError``): fetch a new one.

Without ``OPENAI_API_KEY`` both halves run here against the built-in simulator,
which issues and checks secrets like the live service.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from realtime_sync import RealtimeClient
from realtime_sync.rest import create_client_secret

#: The session every secret is bound to: the app cannot choose the model or the instructions' defaults.
SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "You are the assistant of the Example desktop app. Answer in one short sentence.",
    "output_modalities": ["text"],
}
SECRET_SECONDS = 600


# -- the server half (holds the account's key) ----------------------------------------


def serve_tokens(port: int, rest_options: Dict[str, Any]) -> ThreadingHTTPServer:
    """``POST /token`` -> ``{"value": "ek_...", "expires_at": ...}``, on 127.0.0.1:``port`` (0: any free one)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/token":
                self.send_error(404)
                return
            # here: check that the caller is one of your users (a session cookie, a login...)
            try:
                secret = create_client_secret(SESSION, SECRET_SECONDS, **rest_options)
                status, body = 200, {"value": secret["value"], "expires_at": secret["expires_at"]}
            except Exception as exc:  # the key never appears in these messages
                status, body = 502, {"error": str(exc)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="token-endpoint", daemon=True).start()
    return server


# -- the app half (holds no key) ---------------------------------------------------------


def fetch_secret(token_url: str) -> str:
    """Ask the token endpoint for a client secret."""
    request = urllib.request.Request(token_url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["value"])


def run_app(token_url: str, question: str, client_options: Dict[str, Any]) -> None:
    secret = fetch_secret(token_url)
    print("app: got a client secret from %s (ek_..., %d chars)" % (token_url, len(secret)))
    client = RealtimeClient(api_key=secret, **client_options)
    started: List[Dict[str, Any]] = []
    client.realtime.on("server.session.created", started.append)  # the session as the secret made it
    with client:
        client.wait_for_session_created(timeout=10)
        print("app: session instructions: %s" % started[0]["session"].get("instructions"))
        reply = client.ask(question, timeout=30)
        print("assistant: %s" % (reply["formatted"]["text"] or reply["formatted"]["transcript"]))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="run only the token endpoint (needs OPENAI_API_KEY)")
    parser.add_argument("--port", type=int, default=8080, help="port of the token endpoint with --serve")
    parser.add_argument("--app", metavar="TOKEN_URL", help="run only the app, getting secrets from TOKEN_URL")
    parser.add_argument("question", nargs="?", default="What can you do?")
    args = parser.parse_args(argv)
    if args.app:
        run_app(args.app, args.question, {})
        return 0
    if os.environ.get("OPENAI_API_KEY"):
        server = serve_tokens(args.port if args.serve else 0, {})
        url = "http://127.0.0.1:%d/token" % server.server_address[1]
        if args.serve:
            print("token endpoint: %s (Ctrl-C to stop)" % url, file=sys.stderr)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                return 0
        run_app(url, args.question, {})
        return 0
    from realtime_sync.simulator import RealtimeSimulator

    key = "sk-sim-" + secrets.token_hex(8)  # the account's key: only the server half knows it
    with RealtimeSimulator(require_api_key=key) as sim:
        print("(no OPENAI_API_KEY: using the built-in simulator at %s)" % sim.url, file=sys.stderr)
        server = serve_tokens(0, {"api_key": key, "base_url": sim.http_url})
        url = "http://127.0.0.1:%d/token" % server.server_address[1]
        print("server: token endpoint at %s" % url)
        try:
            run_app(url, args.question, {"url": sim.url, "protocol": "ga"})
        finally:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
