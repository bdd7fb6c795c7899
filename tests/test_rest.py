"""Client secrets (POST /v1/realtime/client_secrets), the REST error mapping, webhook signatures.

Request and response shapes are checked with the ``openai`` package's models.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List

import pytest

from realtime_sync import RealtimeClient
from realtime_sync.errors import AuthenticationError, ConfigurationError, InsecureTransportError, RealtimeConnectionError
from realtime_sync.rest import APIStatusError, RestAuthenticationError, create_client_secret
from realtime_sync.webhooks import WebhookVerificationError, new_webhook_secret, sign_webhook, verify_webhook

pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")
from realtime_sync.simulator import RealtimeSimulator  # noqa: E402

KEY = "sk-account-key-" + "x" * 24


@pytest.fixture
def sim() -> Iterator[Any]:
    with RealtimeSimulator(require_api_key=KEY, speed=None) as simulator:
        yield simulator


def test_create_client_secret_sends_and_returns_the_published_shapes(sim: Any) -> None:
    from openai.types.realtime import ClientSecretCreateParams, ClientSecretCreateResponse
    from pydantic import TypeAdapter

    session = {"model": "gpt-realtime", "instructions": "Be a pirate.", "audio": {"output": {"voice": "cedar"}}}
    secret = create_client_secret(session, 60, api_key=KEY, base_url=sim.http_url)
    method, path, body = sim.rest.requests[-1]
    assert (method, path) == ("POST", "/v1/realtime/client_secrets")
    TypeAdapter(ClientSecretCreateParams).validate_python(body, strict=True)
    assert body == {"session": dict(session, type="realtime"), "expires_after": {"anchor": "created_at", "seconds": 60}}
    parsed = ClientSecretCreateResponse.model_validate(secret)
    assert parsed.value.startswith("ek_")
    assert abs(parsed.expires_at - (time.time() + 60)) < 5
    assert parsed.session.type == "realtime"
    assert secret["session"]["instructions"] == "Be a pirate."
    assert secret["session"]["audio"]["output"]["voice"] == "cedar"


def test_a_client_connects_with_the_secret_and_gets_the_bound_session(sim: Any) -> None:
    secret = create_client_secret({"instructions": "Be a pirate.", "audio": {"output": {"voice": "cedar"}}},
                                  api_key=KEY, base_url=sim.http_url)
    client = RealtimeClient(url=sim.url, api_key=secret["value"], protocol="ga")
    created = []
    client.realtime.on("server.session.created", created.append)
    with client:
        assert client.wait_for_session_created(timeout=10)
        # the session starts with the bound configuration (the client's own session.update may change it after)
        assert created[0]["session"]["instructions"] == "Be a pirate."
        assert created[0]["session"]["audio"]["output"]["voice"] == "cedar"
        reply = client.ask("hello", timeout=20)
        assert reply["formatted"]["transcript"] or reply["formatted"]["text"]


def test_an_expired_secret_is_refused_with_401_and_nothing_leaks(sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    value = create_client_secret(api_key=KEY, base_url=sim.http_url)["value"]
    assert sim.rest.expire_client_secrets() == 1
    client = RealtimeClient(url=sim.url, api_key=value, protocol="ga", debug=True)
    with pytest.raises(AuthenticationError) as info:
        client.connect(timeout=10)
    assert info.value.status_code == 401
    assert "expired" in info.value.body
    for text in (str(info.value), repr(info.value), repr(client), caplog.text):
        assert value not in text and KEY not in text


def test_an_unknown_secret_is_refused(sim: Any) -> None:
    client = RealtimeClient(url=sim.url, api_key="ek_" + "0" * 32, protocol="ga")
    with pytest.raises(AuthenticationError) as info:
        client.connect(timeout=10)
    assert info.value.status_code == 401
    assert "0" * 32 not in str(info.value)


def test_a_wrong_account_key_raises_rest_authentication_error_without_the_key(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-" + "y" * 30
    with pytest.raises(RestAuthenticationError) as info:
        create_client_secret(api_key=wrong, base_url=sim.http_url)
    exc = info.value
    assert isinstance(exc, AuthenticationError) and isinstance(exc, APIStatusError)
    assert exc.status_code == 401 and exc.code == "invalid_api_key"
    assert "HTTP 401" in str(exc) and "client_secrets" in str(exc)
    for text in (str(exc), repr(exc), exc.body, json.dumps(exc.error), caplog.text):
        assert wrong not in text


def test_no_key_at_all_is_a_clear_401(sim: Any) -> None:
    with pytest.raises(RestAuthenticationError, match="no API key was sent"):
        create_client_secret(base_url=sim.http_url)


def test_an_invalid_session_is_a_400_naming_the_parameter(sim: Any) -> None:
    with pytest.raises(APIStatusError) as info:
        create_client_secret({"audio": {"output": {"voice": "nobody"}}}, api_key=KEY, base_url=sim.http_url)
    assert info.value.status_code == 400
    assert info.value.error["param"] == "session.audio.output.voice"
    with pytest.raises(APIStatusError) as info:
        create_client_secret(expires_after=5, api_key=KEY, base_url=sim.http_url)
    assert info.value.error["param"] == "expires_after.seconds"


def test_a_secret_cannot_mint_secrets(sim: Any) -> None:
    value = create_client_secret(api_key=KEY, base_url=sim.http_url)["value"]
    with pytest.raises(RestAuthenticationError):
        create_client_secret(api_key=value, base_url=sim.http_url)


def test_a_transcription_secret_has_the_transcription_shape(sim: Any) -> None:
    from openai.types.realtime import ClientSecretCreateResponse

    secret = create_client_secret({"type": "transcription", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
                                  api_key=KEY, base_url=sim.http_url)
    assert ClientSecretCreateResponse.model_validate(secret).session.type == "transcription"


def test_bad_arguments_are_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        create_client_secret()
    with pytest.raises(InsecureTransportError):
        create_client_secret(api_key=KEY, base_url="http://example.com/v1")
    with pytest.raises(ConfigurationError):
        create_client_secret(api_key=KEY, base_url="ftp://example.com")
    with pytest.raises(ConfigurationError):
        create_client_secret("not a dict", api_key=KEY, base_url="http://127.0.0.1:1/v1")  # type: ignore[arg-type]


def test_a_refused_connection_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RealtimeConnectionError, match="refused"):
        create_client_secret(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=5)


def test_redirects_are_not_followed_and_the_key_stays_here() -> None:
    seen = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(APIStatusError, match="redirect") as info:
            create_client_secret(api_key=KEY, base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
        assert info.value.status_code == 307 and seen == ["/v1/realtime/client_secrets"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- webhook signatures -----------------------------------------------------------------


def test_our_signature_is_accepted_by_the_openai_package() -> None:
    from openai import OpenAI

    secret = new_webhook_secret()
    body = json.dumps({"id": "evt_1", "type": "realtime.call.incoming", "created_at": int(time.time()),
                       "data": {"call_id": "rtc_1", "sip_headers": []}})
    headers = sign_webhook(body, secret)
    OpenAI(api_key="sk-x", webhook_secret=secret).webhooks.verify_signature(body, headers)
    event = verify_webhook(body.encode(), headers, secret)
    assert event["data"]["call_id"] == "rtc_1"


def test_verify_matches_a_standard_webhooks_signature_made_by_hand() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    body, stamp = b'{"type": "realtime.call.incoming"}', str(int(time.time()))
    mac = base64.b64encode(hmac.new(key, b"msg_1." + stamp.encode() + b"." + body, hashlib.sha256).digest()).decode()
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": stamp, "Webhook-Signature": "v1,bogus v1," + mac}
    assert verify_webhook(body, headers, secret) == {"type": "realtime.call.incoming"}


@pytest.mark.parametrize("problem", ["wrong secret", "altered body", "too old", "missing header", "not a number"])
def test_a_bad_webhook_is_refused_with_a_clear_error_and_no_secret(problem: str) -> None:
    secret = new_webhook_secret()
    body = b'{"type": "realtime.call.incoming"}'
    headers = sign_webhook(body, secret)
    if problem == "wrong secret":
        headers = sign_webhook(body, new_webhook_secret())
    elif problem == "altered body":
        body = body.replace(b"incoming", b"outgoing")
    elif problem == "too old":
        headers = sign_webhook(body, secret, timestamp=int(time.time()) - 3600)
    elif problem == "missing header":
        del headers["webhook-signature"]
    else:
        headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(WebhookVerificationError) as info:
        verify_webhook(body, headers, secret)
    assert secret not in str(info.value) and secret[6:] not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_server_that_never_answers_is_a_timeout() -> None:
    import socket

    from realtime_sync.errors import RealtimeTimeoutError

    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        with pytest.raises(RealtimeTimeoutError, match="no answer within 0.5 s") as info:
            create_client_secret(api_key=KEY, base_url=url, timeout=0.5)
        assert KEY not in str(info.value)


def test_a_transcription_secret_opens_a_transcription_session_with_its_settings(sim: Any) -> None:
    from realtime_sync import RealtimeAPI

    config = {"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe", "language": "fr"}}}}
    value = create_client_secret(config, api_key=KEY, base_url=sim.http_url)["value"]
    api = RealtimeAPI(sim.url, value, protocol="ga", query={"intent": "transcription"})
    created: List[Dict[str, Any]] = []
    got = threading.Event()
    api.on("server.session.created", lambda event: (created.append(event), got.set()))
    api.connect(timeout=10)
    try:
        assert got.wait(10)
    finally:
        api.disconnect()
    session = created[0]["session"]
    assert session["type"] == "transcription"
    assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    assert session["audio"]["input"]["transcription"]["language"] == "fr"
