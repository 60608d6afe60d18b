"""Entry module of a ClinAlign principle written in Python, written by the host.

componentize-py builds this module, not the author's: it imports the principle's module
(MODULE below), checks that it defines `class WitWorld` with `init` and `emit`, keeps one
instance of it per component instance, and turns a Python exception raised by `init` or
`emit` into the principle's error, naming the file and line, so the call fails alone
instead of trapping.
"""

import importlib
import traceback

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

MODULE = "@MODULE@"
ENTRY = "_clinalign_entry.py"


def _source_file(name: str):
    """The principle's own file a frame is in, or None (the standard library, this module).

    componentize-py mounts each Python path entry at /0, /1, …; the sources are one of them."""
    parts = name.split("/", 2)
    if len(parts) == 3 and parts[0] == "" and parts[1].isdigit() and parts[2] != ENTRY:
        return parts[2]
    return None


def _describe(e: BaseException) -> str:
    """`file.py:line: Type: message`, at the innermost frame in the principle's sources."""
    where = MODULE + ".py"
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        name = _source_file(frame.filename)
        if name is not None:
            where = f"{name}:{frame.lineno}"
            break
    return f"{where}: {type(e).__name__}: {e}"


try:
    _module = importlib.import_module(MODULE)
except SyntaxError:
    raise
except Exception as e:
    raise RuntimeError("importing the principle failed: " + _describe(e)) from None

_class = getattr(_module, "WitWorld", None)
if not isinstance(_class, type):
    raise RuntimeError(
        f"{MODULE}.py:1: no class WitWorld: the module must define "
        "`class WitWorld(wit_world.WitWorld):` with `init(self, config)` and `emit(self, q)`"
    )
for _method in ("init", "emit"):
    if not callable(getattr(_class, _method, None)):
        raise RuntimeError(f"{MODULE}.py:1: class WitWorld has no method `{_method}`")

_principle = None


class WitWorld(wit_world.WitWorld):
    def init(self, config: str) -> None:
        global _principle
        try:
            _principle = _class()
            _principle.init(config)
        except Err:
            raise
        except Exception as e:
            raise Err(_describe(e)) from None

    def emit(self, q: types.Query):
        if _principle is None:
            raise Err(types.EmitError_Failed("emit called before init"))
        try:
            items = _principle.emit(q)
        except Err:
            raise
        except Exception as e:
            raise Err(types.EmitError_Failed(_describe(e))) from None
        return _checked(items)


def _checked(items):
    """The items `emit` returned, or the principle's error saying which one is malformed."""
    if not isinstance(items, list):
        raise Err(types.EmitError_Failed(f"emit returned {type(items).__name__}, not a list of RubricItem"))
    for i, item in enumerate(items):
        if not isinstance(item, types.RubricItem):
            raise Err(types.EmitError_Failed(f"emit returned {type(item).__name__} at [{i}], not a RubricItem"))
        if not isinstance(item.criterion, str) or not isinstance(item.points, int) or isinstance(item.points, bool):
            raise Err(types.EmitError_Failed(f"item [{i}]: criterion must be a str and points an int"))
        if not isinstance(item.axis, types.Axis):
            raise Err(types.EmitError_Failed(f"item [{i}]: axis must be a types.Axis"))
        if not isinstance(item.tags, list) or not all(isinstance(t, str) for t in item.tags):
            raise Err(types.EmitError_Failed(f"item [{i}]: tags must be a list of str"))
    return items
