"""The shape every tab's desk and view have, and the one reader of state files.

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

from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import InputError
from .state import read_state, state_kind  # noqa: F401 - read_state: the tabs' import

# The side, in page pixels, of the picture a tab shows: the image studio's image and its maps exactly,
# a canvas about (upscaled by a whole factor, textures/desk.CanvasDesk.display_scale).
DISPLAY = 512
# a state's "kind" -> the tab that loads it. The Textures tab's states say "canvas", its models' config
# kind (and the kind every state it ever wrote carries); what the user reads calls it "textures".
TABS = {"image": "the Export / import tab", "canvas": "the Textures tab"}
KIND_NAMES = {"canvas": "textures"}     # a state kind as the user reads it, where it differs


class TabView:
    """What every tab's view answers, whatever else it holds: `model`, and what is rendered, `seed`,
    `psi`, `label` and `sliders`; `click` (a pixel of the tab's picture, or None) and `map` (the
    serving.engine.MapSettings the click's map is drawn with). The image tab's `view.View` keeps the
    seed, psi, label and sliders in its RenderArgs and answers them as properties; the textures
    tab's `CanvasView` holds them as fields. A dataclass subclasses it."""

    def clicked(self, x: int, y: int):
        """The same view with pixel (x, y) clicked."""
        return replace(self, click=(x, y))


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
    WHAT = "model"                 # how the refusal names them ("texture model" on the Textures tab)

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
        name = KIND_NAMES.get(kind, kind)
        raise InputError(f"this is {'an' if name[0] in 'aeiou' else 'a'} {name!r} state: "
                         + (f"load it in {where}" if where else "no tab loads it"))
    return state
