"""Answer phone calls: a webhook receiver that accepts each incoming SIP call and runs an agent on it.

    python samples/sip_webhook.py                 (no key: a simulated call, end to end)
    OPENAI_API_KEY=sk-... OPENAI_WEBHOOK_SECRET=whsec_... python samples/sip_webhook.py --port 8000

How a call goes: OpenAI's SIP trunk receives a call for your number and posts
a ``realtime.call.incoming`` webhook to your server. This receiver (stdlib
``http.server``) checks the webhook's signature (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``; a bad one gets HTTP 400 and is
otherwise ignored), accepts the call with a session configuration
(``accept_call``), answers 200, and starts an agent for the call on its own
thread: a ``RealtimeClient(call_id=...)`` attached to the call's session, with
a tool the model can call. The agent greets the caller and ends when the call
does (the caller hangs up, or ``hangup_call``).

Without ``OPENAI_API_KEY`` it starts the built-in simulator, rings one fake
call at this receiver (``--calls N`` for more, at once), lets the caller ask
for the weather, and hangs up: each step is printed. With a key it serves on
``--port`` until Ctrl-C: point the webhook of your OpenAI project at
``https://<your host>/`` (through a tunnel in development).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from realtime_sync import RealtimeClient
from realtime_sync.rest import accept_call, hangup_call
from realtime_sync.webhooks import WebhookVerificationError, verify_webhook

SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "You answer the phone for Example Corp. Be brief and friendly.",
    "audio": {"output": {"voice": "marin"}},
}

print_lock = threading.Lock()


def say(*parts: Any) -> None:
    with print_lock:
        print(*parts, flush=True)


def get_weather(location: str = "here") -> Dict[str, Any]:
    """The agent's tool (a real one would call a weather service)."""
    return {"location": location, "forecast": "sunny", "temperature_c": 21}


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather forecast for a place.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


class Agent(threading.Thread):
    """One call's conversation, on its own thread: attach, greet, serve until the call ends."""

    def __init__(self, call_id: str, options: Dict[str, Any]) -> None:
        super().__init__(name=f"agent-{call_id}", daemon=True)
        self.call_id = call_id
        self.options = options
        self.greeted = threading.Event()
        self.answered = threading.Event()  # an answer after a tool call
        self._used_tool = False
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            self._converse()
        except Exception as exc:  # the call goes on without us; say why
            say(f"[{self.call_id}] agent failed: {exc}")
        finally:
            self.ended.set()

    def _converse(self) -> None:
        client = RealtimeClient(call_id=self.call_id, **self.options)
        client.add_tool(WEATHER_TOOL, lambda args: get_weather(**args))
        client.update_session(turn_detection={"type": "server_vad"})  # the caller's turns end by voice
        closed = threading.Event()
        client.on("close", lambda payload: closed.set())
        client.on("conversation.item.completed", lambda payload: self._on_item(payload["item"]))
        client.realtime.on("server.response.done", self._on_response_done)  # wire events: on .realtime
        client.connect()
        say(f"[{self.call_id}] agent attached")
        client.create_response()  # greet the caller
        closed.wait()
        client.disconnect()
        say(f"[{self.call_id}] call ended")

    def _on_item(self, item: Dict[str, Any]) -> None:
        formatted = item.get("formatted") or {}
        if item.get("type") == "function_call":
            tool = formatted.get("tool") or {}
            say(f"[{self.call_id}] tool {tool.get('name')}({tool.get('arguments')})")
        elif item.get("type") == "function_call_output":
            say(f"[{self.call_id}] tool output {item.get('output')}")
            self._used_tool = True
        elif item.get("role") == "user":
            say(f"[{self.call_id}] caller: {formatted.get('transcript') or formatted.get('text')}")
        elif item.get("role") == "assistant":
            say(f"[{self.call_id}] agent: {formatted.get('transcript') or formatted.get('text')}")

    def _on_response_done(self, event: Dict[str, Any]) -> None:
        if self._used_tool and any(o.get("type") == "message" for o in event["response"].get("output") or []):
            self.answered.set()
        self.greeted.set()


class CallCenter:
    """What the webhook receiver does: check, accept, start an agent per call.

    Args:
        webhook_secret: the ``whsec_...`` signing secret of the webhook endpoint.
        rest_options: ``api_key``/``base_url`` for ``accept_call``.
        client_options: ``RealtimeClient`` options (``api_key``, ``url``, ``protocol``).
    """

    def __init__(self, webhook_secret: str, rest_options: Dict[str, Any], client_options: Dict[str, Any]) -> None:
        self.webhook_secret = webhook_secret
        self.rest_options = rest_options
        self.client_options = client_options
        self.agents: Dict[str, Agent] = {}
        self.refused: List[str] = []

    def handle(self, body: bytes, headers: Any) -> int:
        """One webhook request; the HTTP status to answer."""
        try:
            event = verify_webhook(body, headers, self.webhook_secret)
        except WebhookVerificationError as exc:
            self.refused.append(str(exc))
            say(f"webhook refused: {exc}")
            return 400
        if event.get("type") != "realtime.call.incoming":
            return 200  # other events: acknowledged, nothing to do
        call_id = str(event["data"]["call_id"])
        caller = next((h["value"] for h in event["data"].get("sip_headers", []) if h.get("name") == "From"), "?")
        say(f"[{call_id}] incoming call from {caller}")
        try:
            accept_call(call_id, session=SESSION, **self.rest_options)
        except Exception as exc:
            say(f"[{call_id}] could not accept: {exc}")
            return 200  # the webhook was fine; the call is gone
        agent = Agent(call_id, self.client_options)
        self.agents[call_id] = agent
        agent.start()
        return 200

    def hang_up_all(self) -> None:
        for call_id, agent in list(self.agents.items()):
            if not agent.ended.is_set():
                hangup_call(call_id, **self.rest_options)


def serve(center: CallCenter, port: int) -> ThreadingHTTPServer:
    """The webhook receiver on 127.0.0.1:``port`` (0: any free port), serving on a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = center.handle(body, self.headers)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()
    return server


def simulate(calls: int) -> int:
    """No key: ring fake calls at the receiver through the simulator, and let each caller talk."""
    from realtime_sync.simulator import RealtimeSimulator

    key = "sk-sim-" + secrets.token_hex(8)  # the simulator checks it like the live service
    with RealtimeSimulator(require_api_key=key) as sim:
        print(f"(no OPENAI_API_KEY: using the built-in simulator at {sim.url})", file=sys.stderr)
        center = CallCenter(
            sim.webhook_secret,
            {"api_key": key, "base_url": sim.http_url},
            {"api_key": key, "url": sim.url, "protocol": "ga"},
        )
        receiver = serve(center, 0)
        url = f"http://127.0.0.1:{receiver.server_address[1]}/"
        rung = [sim.ring(url) for _ in range(calls)]
        for call in rung:
            agent = center.agents[call.id]
            if not (call.wait_for_session(10) and agent.greeted.wait(20)):
                say(f"[{call.id}] no greeting")
                return 1
            call.say("What is the weather in Paris?")
        for call in rung:
            agent = center.agents[call.id]
            if not agent.answered.wait(20):
                say(f"[{call.id}] no answer")
                return 1
            call.hang_up()
            agent.join(10)
        receiver.shutdown()
        receiver.server_close()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port of the webhook receiver (with a key)")
    parser.add_argument("--calls", type=int, default=1, help="fake calls to ring (without a key)")
    args = parser.parse_args(argv)
    if not os.environ.get("OPENAI_API_KEY"):
        return simulate(args.calls)
    secret = os.environ.get("OPENAI_WEBHOOK_SECRET")
    if not secret:
        parser.error("set OPENAI_WEBHOOK_SECRET to your webhook endpoint's signing secret (whsec_...)")
    center = CallCenter(secret, {}, {"protocol": "ga"})
    receiver = serve(center, args.port)
    print(f"webhook receiver on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", file=sys.stderr)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        center.hang_up_all()
        receiver.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
