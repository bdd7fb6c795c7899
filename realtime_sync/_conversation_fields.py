"""Field checks for the conversation: a server event's values, or a ProtocolError.

The conversation reads every value it needs from an event through these
helpers, so a malformed event becomes one :class:`~realtime_sync.errors.ProtocolError`
that names the event type and the field, never a bare ``KeyError``,
``TypeError`` or ``ValueError`` from deep inside the bookkeeping.

Also here: the small bounded queue of data parked for items that were not
created yet (:func:`park`).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, Mapping, Tuple, Type, Union

from .errors import ProtocolError

__all__ = ["MAX_QUEUED_IDS", "field", "milliseconds", "samples_at", "text_or_empty", "park"]

logger = logging.getLogger(__name__)

# Events whose item was not created yet are parked under the item id; cap how
# many ids may wait so a server that never creates them cannot grow memory.
MAX_QUEUED_IDS = 64

Kind = Union[Type[Any], Tuple[Type[Any], ...]]


def _describe(kind: Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "string", int: "integer", float: "number", dict: "object", list: "array"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def field(
    event: Mapping[str, Any],
    source: Mapping[str, Any],
    key: str,
    kind: Kind,
    *,
    required: bool = True,
) -> Any:
    """Return ``source[key]`` checked against ``kind``, or raise ProtocolError.

    ``event`` is the whole event, named in the message and attached to the
    error. A missing or ``None`` value is allowed only when ``required`` is
    false (then ``None`` is returned). Booleans never pass as numbers.
    """
    value = source.get(key)
    event_type = event.get("type")
    if value is None:
        if not required:
            return None
        raise ProtocolError(f'{event_type}: missing "{key}"', event=dict(event))
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(
            f'{event_type}: "{key}" must be a {_describe(kind)}, got {type(value).__name__}',
            event=dict(event),
        )
    return value


def milliseconds(event: Mapping[str, Any], key: str) -> Union[int, float]:
    """Return ``event[key]`` as a finite number of milliseconds, or raise ProtocolError.

    NaN, infinities and integers too large for a float would otherwise surface
    as ValueError / OverflowError from ``math.floor`` or ``math.isfinite``.
    """
    value: Union[int, float] = field(event, event, key, (int, float))
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise ProtocolError(
            f'{event.get("type")}: "{key}" must be a finite number, got {value!r:.40}',
            event=dict(event),
        )
    return value


# Sample positions are clamped here: far past any real audio, still an int.
_MAX_POSITION = 2**62


def samples_at(ms: float, rate: int) -> int:
    """The sample index at ``ms`` milliseconds (floor), clamped to +-2**62.

    ``ms`` is finite (checked by :func:`milliseconds`), but a finite number of
    milliseconds can still overflow a float once multiplied by the rate.
    """
    try:
        position = ms * rate / 1000
    except OverflowError:  # a huge int divided into a float
        return _MAX_POSITION if ms > 0 else -_MAX_POSITION
    if position >= _MAX_POSITION:
        return _MAX_POSITION
    if position <= -_MAX_POSITION:
        return -_MAX_POSITION
    return math.floor(position)


def text_or_empty(value: Any) -> str:
    """``value`` if it is a string, else ``""`` (a content part's missing or odd text)."""
    return value if isinstance(value, str) else ""


def park(queue: Dict[str, Dict[str, Any]], item_id: str) -> Dict[str, Any]:
    """Return the parked entry for ``item_id``, creating it; evict the oldest if full."""
    entry = queue.get(item_id)
    if entry is None:
        if len(queue) >= MAX_QUEUED_IDS:
            oldest = next(iter(queue))
            logger.debug("dropping data queued for item %s that was never created", oldest)
            del queue[oldest]
        entry = queue[item_id] = {}
    return entry
