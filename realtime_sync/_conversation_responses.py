"""The conversation's record of responses: created, their output items, done.

:class:`ResponseBook` keeps one dict per response: the server's response
object with ``"output"`` reduced to a list of item ids, ``"output_items"`` the
output items themselves (in output order), and the final ``status``,
``status_details`` and ``usage`` once ``response.done`` came.

A response's output items usually join the conversation
(``conversation.item.created`` follows ``response.output_item.added``), and
then ``output_items`` holds the conversation's own item dicts. The output of
an out-of-band response (``response.create`` with ``conversation: "none"``)
never does: such items are *detached*, kept only here, and their deltas are
folded into them all the same. An item is detached from
``response.output_item.added`` until the conversation adopts it.

The conversation owns one book and calls it under its lock.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._conversation_fields import field
from ._conversation_items import new_item
from .errors import UnknownItemError

__all__ = ["ResponseBook"]

Response = Dict[str, Any]
Item = Dict[str, Any]


def _output_ids(output: Any) -> List[str]:
    """The item ids of a response's ``output`` (entries without a string id are dropped)."""
    ids = (entry.get("id") if isinstance(entry, dict) else entry for entry in
           (output if isinstance(output, list) else []))
    return [entry_id for entry_id in ids if isinstance(entry_id, str)]


class ResponseBook:
    """Responses by id and in creation order, with their detached output items."""

    __slots__ = ("_lookup", "_snapshot", "_detached", "_owner")

    def __init__(self) -> None:
        self._lookup: Dict[str, Response] = {}
        self._snapshot: Optional[List[Response]] = []
        self._detached: Dict[str, Item] = {}  # item id -> item held by a response only
        self._owner: Dict[str, str] = {}  # detached item id -> response id

    @property
    def responses(self) -> List[Response]:
        """The responses in creation order: a list that is never changed once returned."""
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = list(self._lookup.values())
        return snapshot

    def clear(self) -> None:
        """Forget every response."""
        self._lookup = {}
        self._snapshot = []
        self._detached = {}
        self._owner = {}

    def get(self, response_id: str) -> Optional[Response]:
        """The response with this id, or ``None``."""
        return self._lookup.get(response_id)

    def detached(self, item_id: Any) -> Optional[Item]:
        """The output item ``item_id`` that only a response holds, or ``None``."""
        return self._detached.get(item_id) if isinstance(item_id, str) else None

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
        response["output_items"] = []
        self._lookup[response_id] = response
        self._snapshot = None

    def output_item_added(self, event: Mapping[str, Any], known: Optional[Item]) -> Optional[Item]:
        """``response.output_item.added``: record the item under its response.

        ``known`` is the conversation's item with that id, if it has one;
        otherwise the item is kept detached until :meth:`adopt`.

        Returns:
            The detached item created for it, or ``None``.
        """
        response_id = field(event, event, "response_id", str)
        response = self.require(event, response_id)
        source = field(event, event, "item", dict)
        item_id = field(event, source, "id", str)
        if item_id in response["output"]:
            return None
        response["output"].append(item_id)
        created: Optional[Item] = None
        if known is None:
            created = known = new_item(source)
            self._detached[item_id] = created
            self._owner[item_id] = response_id
        response["output_items"].append(known)
        return created

    def attach_final(self, response: Response, entry: Mapping[str, Any]) -> Item:
        """A final output item (``response.done``) the response never announced: keep it detached."""
        item = new_item(entry)
        item_id = item["id"]
        if isinstance(entry.get("status"), str):
            item["status"] = entry["status"]
        self._detached[item_id] = item
        self._owner[item_id] = response["id"]
        response["output_items"].append(item)
        return item

    def adopt(self, item: Item) -> Optional[Item]:
        """The conversation created ``item``: it replaces the detached item of that id.

        Returns:
            The detached item it replaces, or ``None``.
        """
        item_id = item["id"]
        old = self._detached.pop(item_id, None)
        response_id = self._owner.pop(item_id, None)
        response = self._lookup.get(response_id) if response_id is not None else None
        if old is not None and response is not None:
            items = response["output_items"]
            for index, entry in enumerate(items):
                if entry is old:
                    items[index] = item
        return old

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
