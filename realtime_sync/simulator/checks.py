"""The simulator's validation vocabulary: :class:`ClientError` and the real server's error shapes.

Every check of a client's payload (beta and GA sessions, responses, items,
transcription sessions, the REST side) raises a :class:`ClientError` built
here, so one field is reported the same way wherever it is checked: an
``invalid_request_error`` with a ``code`` (``invalid_type``,
``invalid_value``, ``unknown_parameter``, ``missing_required_parameter``,
``decimal_below_min_value``...) and a ``param`` naming the field.

Pure functions, no threads.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "ClientError",
    "check_boolean",
    "check_kind",
    "check_modalities",
    "check_object",
    "check_range",
    "check_string",
    "invalid_type",
    "invalid_value",
    "is_number",
    "missing",
    "overrides_of",
    "unknown",
]


class ClientError(Exception):
    """A client event the simulator rejects; becomes an ``error`` event.

    Attributes mirror the wire ``error`` object: ``code``, ``message``,
    ``param`` and ``error_type``.
    """

    def __init__(
        self,
        code: Optional[str],
        message: str,
        param: Optional[str] = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type

    def to_error(self, event_id: Optional[str]) -> Dict[str, Any]:
        """The wire ``error`` object, naming the client event that caused it."""
        return {
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }


_TYPE_NAMES = (
    (bool, "a boolean"),  # before int: a bool is an int
    (int, "an integer"),
    (float, "a decimal"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


def _type_name(value: Any) -> str:
    """How the real server names a JSON value's type in its messages."""
    if value is None:
        return "null"
    for python_type, name in _TYPE_NAMES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def invalid_type(param: str, expected: str, value: Any) -> ClientError:
    """The real server's ``invalid_type`` error for ``param`` (``expected``: "a string"...)."""
    return ClientError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param,
    )


def invalid_value(param: str, value: Any, allowed: Any) -> ClientError:
    """The real server's ``invalid_value`` error, listing the ``allowed`` values."""
    options = ", ".join(f"'{v}'" for v in allowed)
    return ClientError(
        "invalid_value",
        f"Invalid value: '{value}'. Supported values are: {options}.",
        param,
    )


def missing(param: str) -> ClientError:
    """The real server's ``missing_required_parameter`` error."""
    return ClientError("missing_required_parameter", f"Missing required parameter: '{param}'.", param)


def unknown(param: str) -> ClientError:
    """The real server's ``unknown_parameter`` error."""
    return ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_range(param: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    if integer:
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid_type(param, "an integer", value)
        kind = "integer"
    else:
        if not is_number(value):
            raise invalid_type(param, "a decimal", value)
        kind = "decimal"
    if value < low:
        raise ClientError(
            f"{kind}_below_min_value",
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low}, but got {value} instead.",
            param,
        )
    if value > high:
        raise ClientError(
            f"{kind}_above_max_value",
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high}, but got {value} instead.",
            param,
        )


def check_object(param: str, value: Any, allowed: Tuple[str, ...]) -> Dict[str, Any]:
    """``value`` as an object whose keys are all in ``allowed``."""
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    for key in value:
        if key not in allowed:
            raise unknown(f"{param}.{key}")
    return value


def check_kind(param: str, value: Any, kinds: Tuple[str, ...]) -> str:
    """The ``type`` of an object that must be one of ``kinds`` (missing, ill-typed or unknown: an error)."""
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    kind = value.get("type")
    if kind is None:
        raise missing(f"{param}.type")
    if kind not in kinds:
        raise invalid_value(f"{param}.type", kind, kinds)
    return str(kind)


def overrides_of(param: str, value: Any) -> Dict[str, Any]:
    """An optional object of settings (``response.create``'s ``response``): ``{}`` for ``None``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    return value


def check_string(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    return value


def check_boolean(param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid_type(param, "a boolean", value)
    return value


def check_modalities(param: str, value: Any, *, ga: bool = False) -> List[str]:
    """A checked list of modalities, in the internal form.

    Beta accepts ``["text"]`` and ``["text", "audio"]`` (kept as given); GA
    (``output_modalities``) accepts ``["text"]`` and ``["audio"]``, the latter
    meaning ``["text", "audio"]`` internally.
    """
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    for index, entry in enumerate(value):
        if entry not in ("text", "audio"):
            raise invalid_value(f"{param}[{index}]", entry, ("text", "audio"))
    kinds = set(value)
    if ga and kinds in ({"text"}, {"audio"}):
        return ["text", "audio"] if "audio" in kinds else ["text"]
    if not ga and kinds in ({"text"}, {"text", "audio"}):
        return list(value)
    shown = "['audio']" if ga else "['audio', 'text']"
    raise ClientError(
        "invalid_value",
        f"Invalid modalities: {value!r}. Supported combinations are: ['text'] and {shown}.",
        param,
    )
