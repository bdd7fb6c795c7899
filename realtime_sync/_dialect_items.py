"""Items and content parts between the beta model and the GA wire.

Assistant parts are ``text`` / ``audio`` in the beta model and
``output_text`` / ``output_audio`` on GA; user and system parts are
``input_text`` / ``input_audio`` in both.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

__all__ = ["PART_FROM_GA", "item_to_ga", "item_from_ga", "items", "part_from_ga"]

_PART_TO_GA: Dict[str, Dict[str, str]] = {
    "assistant": {"text": "output_text", "audio": "output_audio"},
    "user": {"text": "input_text", "audio": "input_audio"},
    "system": {"text": "input_text"},
}
PART_FROM_GA: Dict[str, str] = {"output_text": "text", "output_audio": "audio"}


def _map_parts(content: Any, mapping: Mapping[str, str]) -> Any:
    """``content`` with part types renamed, copying only the parts that change."""
    if not isinstance(content, list):
        return content
    result: Optional[List[Any]] = None
    for index, part in enumerate(content):
        if isinstance(part, dict):
            renamed = mapping.get(part.get("type"))  # type: ignore[arg-type]
            if renamed is not None:
                if result is None:
                    result = list(content)
                new_part = dict(part)
                new_part["type"] = renamed
                result[index] = new_part
    return content if result is None else result


def item_to_ga(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    result = item
    if "type" not in item and "role" in item:
        result = dict(item)
        result["type"] = "message"
    mapping = _PART_TO_GA.get(item.get("role"))  # type: ignore[arg-type]
    if mapping is not None and result.get("type") == "message":
        content = _map_parts(item.get("content"), mapping)
        if content is not item.get("content"):
            if result is item:
                result = dict(item)
            result["content"] = content
    return result


def item_from_ga(item: Any) -> Any:
    if not isinstance(item, dict) or item.get("type") != "message":
        return item
    content = _map_parts(item.get("content"), PART_FROM_GA)
    if content is item.get("content"):
        return item
    result = dict(item)
    result["content"] = content
    return result


def items(items: Any, convert: Callable[[Any], Any]) -> Any:
    if not isinstance(items, list):
        return items
    converted = [convert(item) for item in items]
    if all(new is old for new, old in zip(converted, items)):
        return items
    return converted


def part_from_ga(part: Any) -> Any:
    if isinstance(part, dict):
        renamed = PART_FROM_GA.get(part.get("type"))  # type: ignore[arg-type]
        if renamed is not None:
            result = dict(part)
            result["type"] = renamed
            return result
    return part
