"""Review: values nested too deeply give our ConfigurationError, never a bare RecursionError."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict

import pytest

from realtime_sync import RealtimeClient
from realtime_sync.api import RealtimeAPI
from realtime_sync.errors import ConfigurationError


def _deep(levels: int = 5000) -> Dict[str, Any]:
    top: Dict[str, Any] = {}
    current = top
    for _ in range(levels):
        current["x"] = {}
        current = current["x"]
    return top


@pytest.mark.parametrize("protocol", ["beta", "ga"])
def test_send_of_a_deeply_nested_event_is_a_configuration_error(
    make_simulator: Callable[..., Any], protocol: str
) -> None:
    simulator = make_simulator()
    api = RealtimeAPI(simulator.url, protocol=protocol)
    sent = []
    api.on("client.*", sent.append)
    api.connect(timeout=5)
    try:
        try:
            json.dumps(_deep())
        except RecursionError:  # too deep for this interpreter's json: our error, nothing sent
            with pytest.raises(ConfigurationError, match="nested too deeply"):
                api.send("response.create", {"response": {"metadata": _deep()}})
            assert sent == []
        else:  # 3.13's json encodes it: it is sent like any event, never a bare RecursionError
            api.send("response.create", {"response": {"metadata": _deep()}})
            assert len(sent) == 1
    finally:
        api.disconnect()


def test_client_settings_nested_too_deeply_are_a_configuration_error(make_simulator: Callable[..., Any]) -> None:
    simulator = make_simulator()
    client = RealtimeClient(url=simulator.url)
    client.connect(timeout=5)
    try:
        deep = _deep()
        with pytest.raises(ConfigurationError, match="nested too deeply"):
            client.update_session(tools=[{"type": "function", "name": "f", "parameters": deep}])
        with pytest.raises(ConfigurationError, match="nested too deeply"):
            client.add_tool({"name": "g", "parameters": deep}, lambda arguments: 1)
        with pytest.raises(ConfigurationError, match="nested too deeply"):
            client.create_response({"metadata": deep})
    finally:
        client.disconnect()
