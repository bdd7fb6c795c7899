"""SIP calls: call control over REST, RealtimeClient(call_id=...), fake calls rung by the simulator, the sample.

Request bodies are checked with the ``openai`` package's call parameter types.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from support_docs import ROOT, SAMPLES, clean_env, run_python

from realtime_sync import RealtimeClient
from realtime_sync.errors import HandshakeError
from realtime_sync.rest import NotFoundError, accept_call, hangup_call, refer_call, reject_call
from realtime_sync.webhooks import new_webhook_secret, verify_webhook

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")
from realtime_sync.simulator import RealtimeSimulator  # noqa: E402

KEY = "sk-account-key-" + "z" * 24


@pytest.fixture
def sim() -> Iterator[Any]:
    with RealtimeSimulator(require_api_key=KEY, speed=None) as simulator:
        yield simulator


@pytest.fixture
def receiver() -> Iterator[Tuple[str, List[Tuple[bytes, Dict[str, str]]]]]:
    """A webhook receiver that records what it gets and answers 200."""
    received: List[Tuple[bytes, Dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((body, dict(self.headers.items())))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()
    thread.join()


def test_ring_posts_a_signed_call_incoming_webhook(sim: Any, receiver: Any) -> None:
    from openai.types.webhooks import RealtimeCallIncomingWebhookEvent

    url, received = receiver
    call = sim.ring(url)
    assert call.webhook_status == 200 and call.status == "ringing"
    body, headers = received[0]
    event = verify_webhook(body, headers, sim.webhook_secret)
    parsed = RealtimeCallIncomingWebhookEvent.model_validate(event)
    assert parsed.data.call_id == call.id and parsed.data.sip_headers[0].name == "From"


def test_accept_then_attach_with_call_id_runs_the_accepted_session(sim: Any, receiver: Any) -> None:
    from openai.types.realtime import CallAcceptParams
    from pydantic import TypeAdapter

    call = sim.ring(receiver[0])
    session = {"model": "gpt-realtime", "instructions": "You are a phone agent.", "audio": {"output": {"voice": "marin"}}}
    accept_call(call.id, session=session, api_key=KEY, base_url=sim.http_url)
    _, path, body = sim.rest.requests[-1]
    assert path == f"/v1/realtime/calls/{call.id}/accept"
    TypeAdapter(CallAcceptParams).validate_python(body, strict=True)
    assert call.status == "accepted" and call.session == dict(session, type="realtime")

    client = RealtimeClient(url=sim.url, api_key=KEY, call_id=call.id, protocol="ga")
    created: List[Dict[str, Any]] = []
    closed = threading.Event()
    client.realtime.on("server.session.created", created.append)
    client.on("close", lambda payload: closed.set())
    client.connect(timeout=10)
    try:
        assert client.wait_for_session_created(timeout=10)
        assert call.wait_for_session(10)
        assert created[0]["session"]["instructions"] == "You are a phone agent."
        assert created[0]["session"]["model"] == "gpt-realtime"
        updated = threading.Event()
        client.realtime.on("server.session.updated", lambda event: updated.set())
        client.update_session(turn_detection={"type": "server_vad"})
        assert updated.wait(10)
        done = threading.Event()
        client.on("conversation.item.completed",
                  lambda p: done.set() if p["item"].get("role") == "assistant" else None)
        call.say("Hello there")
        assert done.wait(20)
        hangup_call(call.id, api_key=KEY, base_url=sim.http_url)
        assert call.status == "ended"
        assert closed.wait(10), "hanging up closes the call's session"
    finally:
        client.disconnect()


def test_the_call_url_names_the_call_and_no_model() -> None:
    client = RealtimeClient(url="wss://api.openai.com/v1/realtime", api_key=KEY, call_id="rtc_abc")
    target, model = client.realtime._target(None)
    assert "call_id=rtc_abc" in target.reveal() and "model=" not in target.reveal() and model is None
    assert client.call_id == "rtc_abc"


def test_reject_and_refer_send_the_published_shapes(sim: Any, receiver: Any) -> None:
    from openai.types.realtime import CallReferParams, CallRejectParams
    from pydantic import TypeAdapter

    first = sim.ring(receiver[0])
    reject_call(first.id, status_code=486, api_key=KEY, base_url=sim.http_url)
    TypeAdapter(CallRejectParams).validate_python(sim.rest.requests[-1][2], strict=True)
    assert first.status == "rejected" and first.reject_status == 486

    second = sim.ring(receiver[0])
    accept_call(second.id, api_key=KEY, base_url=sim.http_url)
    refer_call(second.id, "tel:+14155550123", api_key=KEY, base_url=sim.http_url)
    TypeAdapter(CallReferParams).validate_python(sim.rest.requests[-1][2], strict=True)
    assert second.status == "referred" and second.refer_target == "tel:+14155550123"


def test_an_unknown_call_id_is_a_not_found_error(sim: Any) -> None:
    for action in (lambda: accept_call("rtc_nope", api_key=KEY, base_url=sim.http_url),
                   lambda: hangup_call("rtc_nope", api_key=KEY, base_url=sim.http_url)):
        with pytest.raises(NotFoundError) as info:
            action()
        assert info.value.status_code == 404 and "rtc_nope" in str(info.value) and KEY not in str(info.value)
    client = RealtimeClient(url=sim.url, api_key=KEY, call_id="rtc_nope", protocol="ga")
    with pytest.raises(HandshakeError) as handshake:
        client.connect(timeout=10)
    assert handshake.value.status_code == 404


def test_a_call_not_yet_accepted_has_no_session_and_an_ended_one_takes_no_action(sim: Any, receiver: Any) -> None:
    call = sim.ring(receiver[0])
    with pytest.raises(HandshakeError) as info:
        RealtimeClient(url=sim.url, api_key=KEY, call_id=call.id, protocol="ga").connect(timeout=10)
    assert info.value.status_code == 400
    hangup_call(call.id, api_key=KEY, base_url=sim.http_url)
    with pytest.raises(Exception) as late:
        accept_call(call.id, api_key=KEY, base_url=sim.http_url)
    assert getattr(late.value, "status_code", None) == 400 and "ended" in str(late.value)


def test_bad_call_arguments_are_refused_before_any_request() -> None:
    from realtime_sync.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        reject_call("rtc_1", status_code=42, api_key=KEY, base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError):
        refer_call("rtc_1", "https://example.com", api_key=KEY, base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError):
        accept_call("", api_key=KEY, base_url="http://127.0.0.1:1/v1")


# -- the sample ------------------------------------------------------------------------


def test_sip_webhook_sample_answers_calls_end_to_end(tmp_path: Any) -> None:
    args = [str(SAMPLES / "sip_webhook.py"), "--calls", "2"]
    result = run_python(args, timeout=120, env=clean_env(PYTHONPATH=str(ROOT)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("incoming call from") == 2 and out.count("agent attached") == 2
    assert out.count('tool get_weather({"location": "Paris"})') == 2
    assert out.count("call ended") == 2
    assert list(tmp_path.iterdir()) == []


def test_sip_webhook_refuses_a_badly_signed_webhook_and_loses_nothing(sim: Any) -> None:
    sys.path.insert(0, str(SAMPLES))
    try:
        import sip_webhook
    finally:
        sys.path.remove(str(SAMPLES))
    center = sip_webhook.CallCenter(sim.webhook_secret, {"api_key": KEY, "base_url": sim.http_url},
                                    {"api_key": KEY, "url": sim.url, "protocol": "ga"})
    server = sip_webhook.serve(center, 0)
    try:
        call = sim.ring(f"http://127.0.0.1:{server.server_address[1]}/", secret=new_webhook_secret())
        assert call.webhook_status == 400 and call.status == "ringing" and center.agents == {}
        assert "signature does not match" in center.refused[0]
        good = sim.ring(f"http://127.0.0.1:{server.server_address[1]}/")  # the next, signed right, is answered
        assert good.status == "accepted" and good.wait_for_session(10)
        hangup_call(good.id, api_key=KEY, base_url=sim.http_url)
        center.agents[good.id].join(10)
        assert not center.agents[good.id].is_alive()
    finally:
        server.shutdown()
        server.server_close()


def test_token_server_sample_hands_the_app_a_secret(tmp_path: Any) -> None:
    args = [str(SAMPLES / "token_server.py"), "Who are you?"]
    result = run_python(args, timeout=120, env=clean_env(PYTHONPATH=str(ROOT)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "server: token endpoint at http://127.0.0.1:" in out
    assert "app: got a client secret" in out and "ek_..." in out
    assert "app: session instructions: You are the assistant of the Example desktop app." in out
    assert out.splitlines()[-1].startswith("assistant: ") and "Who are you?" in out
    assert "sk-sim-" not in out


def test_the_caller_speaking_interrupts_a_response_and_hanging_up_ends_the_session(receiver: Any) -> None:
    slow = RealtimeSimulator(require_api_key=KEY, speed=1.0)  # replies stream in real time: there is time to interrupt
    with slow:
        call = slow.ring(receiver[0])
        accept_call(call.id, {"audio": {"input": {"turn_detection": {"type": "server_vad"}}}},
                    api_key=KEY, base_url=slow.http_url)
        client = RealtimeClient(url=slow.url, api_key=KEY, call_id=call.id, protocol="ga")
        started, closed = threading.Event(), threading.Event()
        done: List[Dict[str, Any]] = []
        client.realtime.on("server.response.created", lambda event: started.set())
        finished = threading.Event()
        client.realtime.on("server.response.done", lambda event: (done.append(event["response"]), finished.set()))
        client.on("close", lambda payload: closed.set())
        client.connect(timeout=10)
        try:
            assert call.wait_for_session(10)
            call.say("Tell me a long story about the sea, please.")
            assert started.wait(10)
            call.say("Stop!")  # barge-in: the first response is cancelled, a new one starts
            assert finished.wait(10)
            call.hang_up()
            assert closed.wait(10) and call.status == "ended"
            assert call.actions[-1] == "caller_hangup"
        finally:
            client.disconnect()
    assert done and done[0]["status"] == "cancelled"
