"""Simulated MCP servers (GA): listing their tools, approvals, and calling them.

A GA session may name remote MCP servers in its tools
(``{"type": "mcp", "server_label": "docs", "require_approval": "never"}``).
The simulator reaches no network: the servers are the simulator's
``mcp_servers`` option, a mapping ``{server_label: {tool_name: tool}}`` where
a tool is a callable ``tool(arguments: dict) -> str | JSON-able``, or a mapping
with ``call`` and optionally ``description`` and ``input_schema``. ::

    RealtimeSimulator(mcp_servers={"docs": {"search": lambda args: "3 pages found"}})

When a session adds an MCP server, the simulator lists its tools as the live
service does (an ``mcp_list_tools`` item). A responder asks for an MCP call
with ``Reply(mcp_tool=..., mcp_arguments=...)``: unless the server's
``require_approval`` says ``"never"`` for that tool, the response carries an
``mcp_approval_request`` item; once the client adds an approving
``mcp_approval_response`` item and asks for a response, that response makes the
``mcp_call`` (with its output) before the responder speaks.

Pure functions over the session state; callers hold no lock while a tool runs.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .config import new_id
from .state import SendEvent, SessionState

__all__ = ["McpServers", "approved_requests", "call_mcp_tool", "list_mcp_tools", "mcp_server_tool", "needs_approval"]

logger = logging.getLogger(__name__)

#: ``{server_label: {tool_name: callable or {"call", "description", "input_schema"}}}``.
McpServers = Mapping[str, Mapping[str, Any]]

_DEFAULT_SCHEMA: Dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}


def _handler(spec: Any) -> Optional[Callable[[Dict[str, Any]], Any]]:
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if isinstance(spec, Mapping) and callable(spec.get("call")):
        return spec["call"]  # type: ignore[no-any-return]
    return None


def _listed_tool(name: str, spec: Any) -> Dict[str, Any]:
    details = spec if isinstance(spec, Mapping) else {}
    description = details.get("description") or (getattr(spec, "__doc__", None) if callable(spec) else None)
    return {
        "name": name,
        "description": (description or f"The simulated MCP tool {name}.").strip(),
        "input_schema": copy.deepcopy(details.get("input_schema") or _DEFAULT_SCHEMA),
        "annotations": None,
    }


def list_mcp_tools(state: SessionState, send: SendEvent, tool: Mapping[str, Any], servers: Optional[McpServers]) -> None:
    """Add the ``mcp_list_tools`` item of a newly configured MCP server and report it (lock held)."""
    label = str(tool["server_label"])
    item: Dict[str, Any] = {"id": new_id("mcpl"), "type": "mcp_list_tools", "server_label": label, "tools": []}
    previous = state.last_item_id()
    state.items.append(item)
    send({"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)})
    send({"type": "mcp_list_tools.in_progress", "item_id": item["id"]})
    server = (servers or {}).get(label)
    if server is None:
        logger.info("simulator: no simulated MCP server %r (see the mcp_servers option)", label)
        send({"type": "mcp_list_tools.failed", "item_id": item["id"]})
    else:
        item["tools"] = [_listed_tool(str(name), spec) for name, spec in server.items()]
        send({"type": "mcp_list_tools.completed", "item_id": item["id"]})
    send({"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)})


def mcp_server_tool(tools: List[Dict[str, Any]], label: Optional[str]) -> Optional[Dict[str, Any]]:
    """The session's MCP tool entry for ``label`` (None: the only MCP server configured)."""
    servers = [t for t in tools if t.get("type") == "mcp"]
    if label is None:
        return servers[0] if len(servers) == 1 else None
    return next((t for t in servers if t.get("server_label") == label), None)


def _names(rule: Any) -> List[str]:
    if isinstance(rule, Mapping) and isinstance(rule.get("tool_names"), list):
        return [str(name) for name in rule["tool_names"]]
    return []


def needs_approval(tool: Mapping[str, Any], name: str) -> bool:
    """Whether calling ``name`` on this MCP server needs the client's approval (the default)."""
    rule = tool.get("require_approval", "always")
    if rule == "never":
        return False
    if isinstance(rule, Mapping):
        if name in _names(rule.get("never")):
            return False
    return True


def approved_requests(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Approval requests the client approved that no ``mcp_call`` has answered yet, in order."""
    approved = {
        i.get("approval_request_id") for i in items if i.get("type") == "mcp_approval_response" and i.get("approve")
    }
    called = {i.get("approval_request_id") for i in items if i.get("type") == "mcp_call"}
    return [
        i for i in items if i.get("type") == "mcp_approval_request" and i.get("id") in approved and i.get("id") not in called
    ]


def call_mcp_tool(servers: Optional[McpServers], label: str, name: str, arguments: str) -> Tuple[Optional[str], Any]:
    """Run a simulated MCP tool; returns ``(output, None)`` or ``(None, error object)``."""
    handler = _handler((servers or {}).get(label, {}).get(name))
    if handler is None:
        return None, {"type": "protocol_error", "code": -32602, "message": f"Unknown tool: {name}"}
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError as exc:
        return None, {"type": "protocol_error", "code": -32602, "message": f"Invalid arguments: {exc}"}
    try:
        result = handler(parsed if isinstance(parsed, dict) else {"value": parsed})
    except Exception as exc:  # the tool's failure is the call's result
        logger.debug("simulated MCP tool %s.%s raised", label, name, exc_info=True)
        return None, {"type": "tool_execution_error", "message": str(exc) or type(exc).__name__}
    return (result if isinstance(result, str) else json.dumps(result)), None
