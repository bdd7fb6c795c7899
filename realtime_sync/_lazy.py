"""Heavy modules imported on first use, not when ``realtime_sync`` is imported.

``import realtime_sync`` should cost a fraction of what numpy (audio) and
websocket-client with ssl (the socket) cost, since a program pays those only
once it touches audio or connects. A module that needs numpy writes::

    if TYPE_CHECKING:
        import numpy as np
    else:
        from ._lazy import numpy as np

and uses ``np.int16``, ``np.ndarray``... as usual. ``np`` is a stand-in
module: the first attribute looked up on it imports numpy and copies numpy's
namespace into the stand-in, so every later lookup is an ordinary module
attribute lookup (no import statement, no function call: hot paths pay
nothing). A name numpy gains afterwards is still found (the stand-in then
asks numpy). Safe from any thread: the import is under the import lock and
the copy is the same every time.

The stand-ins are not in :data:`sys.modules`; the modules they stand for are
there once, and only once, something has used them.
"""

from __future__ import annotations

import importlib
import types
from typing import Any, Callable, Dict

__all__ = ["lazy_module", "numpy", "socket", "ssl", "websocket"]

_STAND_INS: Dict[str, types.ModuleType] = {}


def lazy_module(name: str) -> types.ModuleType:
    """A stand-in for module ``name`` that imports it on the first attribute lookup."""
    stand_in = _STAND_INS.get(name)
    if stand_in is None:
        stand_in = types.ModuleType(name, f"{name}, imported on first use (see realtime_sync._lazy)")
        stand_in.__dict__["__getattr__"] = _loader(stand_in, name)  # PEP 562: asked for names it lacks
        stand_in = _STAND_INS.setdefault(name, stand_in)
    return stand_in


def _loader(stand_in: types.ModuleType, name: str) -> Callable[[str], Any]:
    def load(attribute: str) -> Any:
        # Only a name the stand-in does not hold yet comes here (PEP 562).
        module = importlib.import_module(name)

        def forward(later: str) -> Any:
            return getattr(module, later)

        namespace = dict(module.__dict__)
        namespace["__getattr__"] = forward  # names numpy adds later, or makes on demand
        stand_in.__dict__.update(namespace)
        return getattr(module, attribute)

    return load


numpy = lazy_module("numpy")
socket = lazy_module("socket")
ssl = lazy_module("ssl")
websocket = lazy_module("websocket")
