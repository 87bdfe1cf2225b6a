"""State files, read once for every tab: a .json, or the text chunk of a PNG the studio exported.

A leaf of the studio (it imports nothing of it), so the image tab's view, the exports and the
desks can all use it. What the state holds is each desk's to check (desk.py: `parse_state`).
"""
from __future__ import annotations

import io
import json

from PIL import Image

from ..errors import InputError

STATE_KEY = "attn-demo-state"           # the PNG text chunk an export's state travels in
MAX_STATE_PNG_PIXELS = 4096 * 4096      # an exported PNG is at most 1024 px; anything far larger is not ours
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def state_from_png(data: bytes) -> str:
    """The view's JSON state an exported PNG carries, or a clear error. Only the PNG's header and
    text chunks are read (no pixels are decoded), and only from a PNG of a sane size."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG":
                raise InputError("not a PNG: load a state .json or a PNG exported by attn-demo")
            if im.width * im.height > MAX_STATE_PNG_PIXELS:
                raise InputError("this PNG is far larger than any attn-demo export")
            state = im.info.get(STATE_KEY)
    except InputError:
        raise
    except Exception as e:                                # noqa: BLE001 - a broken upload of any kind
        raise InputError(f"cannot read this image ({type(e).__name__}): load a state .json or an exported PNG") \
            from None
    if not isinstance(state, str):
        raise InputError("this PNG carries no attn-demo state: export it from the studio first")
    return state


def read_state(data: bytes | str | None) -> dict:
    """A state's JSON, from a .json file or the text chunk of a PNG the studio exported, as a dict
    that is an attn-demo state (its fields are the desk's to check)."""
    if data is None:
        raise InputError("no file")
    if not isinstance(data, str):
        data = bytes(data)
        if data[:8] == PNG_SIGNATURE:                    # an exported PNG carries its view's state
            data = state_from_png(data)
    try:
        state = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"not a valid state file (JSON): {e}") from None
    if not isinstance(state, dict) or state.get("app") != "attn-demo":
        raise InputError("not an attn-demo state file")
    return state


def state_kind(state: dict) -> str:
    """The tab a state belongs to: its "kind", "image" where it has none (every image state so far)."""
    return state.get("kind", "image")
