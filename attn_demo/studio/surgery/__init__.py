"""The "What attention does" tab (issue #35): switch attention off, hide a region, redirect, the
faithfulness of the map on screen, and D's view, on the image studio's current view.

- link.py      an intervention and the training versions (step, B) in a view's state and link
               (a leaf: view.py imports it)
- layout.py    the tab's widgets
- tab.py       its handlers and wiring
- versions.py  the training timeline and A/B (its accordion, handlers, /timeline and /ab)
- api.py       /intervene and /d_attention

The tab's public names load when first asked for (`from attn_demo.studio.surgery import
SurgeryHandlers`): view.py imports link.py, and the tab itself imports view.py.
"""
from importlib import import_module

_PUBLIC = {"intervention_to_text": "link", "intervention_from_text": "link", "check_intervention": "link",
           "Versions": "link", "check_versions": "link",
           "SurgeryWidgets": "layout", "surgery_layout": "layout", "ACTION_LABELS": "layout",
           "SCOPE_LABELS": "layout", "TAB": "layout", "SurgeryHandlers": "tab", "wire_surgery": "tab"}


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
