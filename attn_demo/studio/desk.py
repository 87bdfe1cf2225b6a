"""The shape every tab's desk has, and the one reader of state files.

A desk is a tab's logic without Gradio: the image studio (`core.Studio`, its view `view.View`)
and the textures desk (`textures.desk.CanvasDesk`, its view `CanvasView`). The page's handlers,
the named API and the tests call the same verbs on either:

    render(view)              the picture the view shows (cached: a click never renders again)
    inspect(view, x, y)       a click: the map of that pixel from the cached render
    export(view, ...)         every file the view makes, a zip of them first
    state_dict(view)          the view as a JSON state (every export carries it)
    parse_state(state)        a state (a dict from read_state) -> (view, warnings)

A state file says which desk it belongs to in its "kind" ("image" where it is missing: every
image state written so far); `read_state` (studio/state.py) reads one from a JSON file or an exported PNG, once
for every tab, and `check_kind` says where a state of another kind loads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import InputError
from .state import read_state, state_kind  # noqa: F401 - read_state: the tabs' import

# a state's "kind" -> the tab that loads it (the textures desk writes "canvas": its model kind's name)
TABS = {"image": "the Export / import tab", "canvas": "the Textures tab"}


@runtime_checkable
class Desk(Protocol):
    """One tab's logic, without Gradio (see the module's docstring)."""

    STATE_KIND: str

    @property
    def models(self) -> list[str]: ...

    def engine(self, model: str) -> Any: ...

    def render(self, view) -> Any: ...

    def inspect(self, view, x: int, y: int) -> Any: ...

    def export(self, view) -> list[Path]: ...

    def state_dict(self, view) -> dict: ...

    def parse_state(self, state: dict) -> tuple[Any, list[str]]: ...


class Models:
    """A desk's models by name, the part both desks share: `engines` (set by the desk), `models`,
    and `engine(model)`, which refuses an unknown name with the names it knows."""

    engines: dict
    WHAT = "model"                 # how the refusal names them ("canvas model" on the Textures tab)

    @property
    def models(self) -> list[str]:
        return list(self.engines)

    def engine(self, model: str):
        if not isinstance(model, str) or model not in self.engines:
            raise InputError(f"unknown {self.WHAT} {model!r}; choose one of {', '.join(self.engines) or 'none'}")
        return self.engines[model]


def check_kind(state: dict, desk: Desk) -> dict:
    """The state, if it is `desk`'s kind; otherwise an error that names the tab that loads it."""
    kind = state_kind(state)
    if kind != desk.STATE_KIND:
        where = TABS.get(kind)
        raise InputError(f"this is {'an' if kind[0] in 'aeiou' else 'a'} {kind!r} state: "
                         + (f"load it in {where}" if where else "no tab loads it"))
    return state
