"""An intervention (studio/intervene.Intervention) as part of a view: in its JSON state and its link.

The state carries `Intervention.to_dict()` under "intervention"; a link carries the fields that
differ from the defaults as compact JSON in one parameter, `iv`:

    ?model=emoji32&seed=42&psi=0.8&iv={"action":"hide","layer":"G16","brush":[96,96,320,320],"size":512}

Both come back through `Intervention.from_dict` (unknown fields, wrong types and bad boxes are
refused with a message) and `check_intervention` (its layer and head must be the model's).
States and links without one load as before.
"""
from __future__ import annotations

import json
from dataclasses import fields

from ...errors import InputError
from ..intervene import Intervention

MAX_LINK_CHARS = 6000          # a few dozen characters; with painted masks (128 cells a side) up to ~5,500


def intervention_to_text(spec: Intervention) -> str:
    """The link's `iv` value: the fields that differ from the defaults, as compact JSON."""
    defaults = Intervention().to_dict()
    d = {k: v for k, v in spec.to_dict().items() if k == "action" or v != defaults[k]}
    return json.dumps(d, separators=(",", ":"))


def intervention_from_text(text) -> Intervention:
    """A link's `iv` value back to an Intervention, or a clear error."""
    text = str(text)
    if len(text) > MAX_LINK_CHARS:
        raise InputError("the intervention in the link is too long")
    try:
        data = json.loads(text)
    except ValueError:
        raise InputError("the intervention in the link is not valid JSON") from None
    return Intervention.from_dict(data)


def check_intervention(spec, engine) -> Intervention | None:
    """A state's or a link's intervention (a dict, or an Intervention) checked against the model's
    layers and heads; None stays None."""
    if spec is None:
        return None
    if not isinstance(spec, Intervention):
        spec = Intervention.from_dict(spec)
    spec = spec.checked()
    if spec.layer is not None and spec.layer not in engine.layers:
        raise InputError(f"the intervention's layer {spec.layer!r} is not one of this model's: "
                         f"{', '.join(engine.layers)}")
    if spec.head is not None and spec.head >= engine.cfg.heads:
        raise InputError(f"the intervention's head {spec.head}: this model has {engine.cfg.heads} head(s)")
    return spec


FIELDS = tuple(f.name for f in fields(Intervention))
