"""The conversation's record of responses: created, their output items, done.

:class:`ResponseBook` keeps one dict per response (the server's response
object with ``"output"`` reduced to a list of item ids, and the final
``status``, ``status_details`` and ``usage`` once ``response.done`` came).
The conversation owns one and calls it under its lock.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._conversation_fields import field
from .errors import UnknownItemError

__all__ = ["ResponseBook"]

Response = Dict[str, Any]


def _output_ids(output: Any) -> List[str]:
    """The item ids of a response's ``output`` (entries without a string id are dropped)."""
    ids = (entry.get("id") if isinstance(entry, dict) else entry for entry in
           (output if isinstance(output, list) else []))
    return [entry_id for entry_id in ids if isinstance(entry_id, str)]


class ResponseBook:
    """Responses by id and in creation order.

    Attributes:
        responses: the responses in creation order (a list that is replaced,
            never mutated, when one is added).
    """

    __slots__ = ("responses", "_lookup")

    def __init__(self) -> None:
        self.responses: List[Response] = []
        self._lookup: Dict[str, Response] = {}

    def clear(self) -> None:
        """Forget every response."""
        self.responses = []
        self._lookup = {}

    def get(self, response_id: str) -> Optional[Response]:
        """The response with this id, or ``None``."""
        return self._lookup.get(response_id)

    def require(self, event: Mapping[str, Any], response_id: str) -> Response:
        """The response with this id, or raise UnknownItemError naming ``event``."""
        response = self._lookup.get(response_id)
        if response is None:
            raise UnknownItemError(f'{event.get("type")}: response "{response_id}" not found', event=dict(event))
        return response

    def created(self, event: Mapping[str, Any]) -> None:
        """``response.created``: index the response (a repeated one is ignored)."""
        source = field(event, event, "response", dict)
        response_id = field(event, source, "id", str)
        if response_id in self._lookup:
            return
        response: Response = copy.deepcopy(dict(source))
        response["output"] = _output_ids(response.get("output"))
        self._lookup[response_id] = response
        self.responses = self.responses + [response]

    def output_item_added(self, event: Mapping[str, Any]) -> None:
        """``response.output_item.added``: append the item id to the response's output."""
        response = self.require(event, field(event, event, "response_id", str))
        item_id = field(event, field(event, event, "item", dict), "id", str)
        if item_id not in response["output"]:
            response["output"] = response["output"] + [item_id]

    def done(self, event: Mapping[str, Any]) -> Tuple[Response, List[Any]]:
        """``response.done``: take the final status, details, usage and output ids.

        Returns:
            The response, and the final ``output`` entries the server sent
            (item dicts to reconcile the stored items with; empty if none).
        """
        final = field(event, event, "response", dict)
        response = self.require(event, field(event, final, "id", str))
        for key in ("status", "status_details", "usage"):
            if key in final:
                response[key] = copy.deepcopy(final[key])
        output = final.get("output")
        if not isinstance(output, list):
            return response, []
        response["output"] = _output_ids(output)
        return response, output
