"""The Textures tab: texture models (config kind "canvas", models/canvas.py) painting textures of
any size, in the page.

- desk.py      CanvasDesk, the tab's desk without Gradio (studio/desk.py's shape), and CanvasView
- tab.py       its widgets, handlers and wiring (on studio/tabs.py's shared verbs)
- material.py  the material panel (a PBR set, a GLB)
- api.py       its named endpoints, /material and /material_glb

The tab's public names load when first asked for (`from attn_demo.studio.textures import
TextureHandlers`): the desk is imported by studio/core.py, which the tab itself imports.
"""
from importlib import import_module

_PUBLIC = {"CanvasDesk": "desk", "CanvasView": "desk", "TextureWidgets": "tab", "TextureHandlers": "tab",
           "texture_layout": "tab", "wire_textures": "tab", "ACTIONS": "tab", "PAINT": "tab",
           "TILING_LABELS": "tab"}


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
