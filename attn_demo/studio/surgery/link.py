"""An intervention (studio/intervene.Intervention) and the training versions on screen (`Versions`)
as part of a view: in its JSON state and its link.

The state carries `Intervention.to_dict()` under "intervention"; a link carries the fields that
differ from the defaults as compact JSON in one parameter, `iv`:

    ?model=emoji32&seed=42&psi=0.8&iv={"action":"hide","layer":"G16","brush":[96,96,320,320],"size":512}

Both come back through `Intervention.from_dict` (unknown fields, wrong types and bad boxes are
refused with a message) and `check_intervention` (its layer and head must be the model's).

The timeline's step and A/B's choice (`Versions`: step, b) travel as "versions" in the state,
{"step": 2000, "b": "emoji32-additive"}, and as `vs=STEP,B` in a link (either part may be empty:
`vs=2000`, `vs=,emoji32@8000`); `check_versions` refuses a step the model ships no snapshot of,
a B that is not a model of the same resolution (or names a snapshot it does not ship) and junk.
States and links without either load as before.
"""
from __future__ import annotations

import json
from dataclasses import fields
from typing import NamedTuple

from ...errors import InputError
from ...models.snapshots import STEP_DIGITS, no_snapshot, snapshot_steps
from ...serving.timeline import check_pair, parse_source
from ..intervene import Intervention

MAX_LINK_CHARS = 6000          # a few dozen characters; with painted masks (128 cells a side) up to ~5,500
MAX_VERSIONS_CHARS = 400       # a step and a model name (a directory's) with its step


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


class Versions(NamedTuple):
    """The training versions on screen in "What attention does" (studio/surgery/versions.py).

    step: the snapshot step shown, the timeline's and A's in A/B (the CLI's and the API's
          `--step` / model@step); None = the model's shipped weights
    b:    A/B's B, another model of the same resolution or a snapshot ("model@step"); None = no A/B
    """

    step: int | None = None
    b: str | None = None


NO_VERSIONS = Versions()


def versions_to_dict(vs: Versions) -> dict:
    return {"step": vs.step, "b": vs.b}


def versions_from_dict(d) -> Versions:
    """A state's "versions" ({"step": int or null, "b": text or null}); anything else is refused."""
    if not isinstance(d, dict):
        raise InputError("the versions in this state are not an object {\"step\": ..., \"b\": ...}")
    unknown = set(d) - set(Versions._fields)
    if unknown:
        raise InputError(f"the versions in this state have unknown fields: {', '.join(sorted(unknown))}")
    step, b = d.get("step"), d.get("b")
    if step is not None and (type(step) is not int or not 0 <= step < 10 ** STEP_DIGITS):
        raise InputError(f"the training step in this state must be a whole number >= 0, got {step!r}")
    if b is not None and (not isinstance(b, str) or not b.strip() or len(b) > MAX_VERSIONS_CHARS):
        raise InputError(f"B in this state must be a model name or model@step, got {b!r}")
    return Versions(step, b.strip() if b is not None else None)


def versions_to_text(vs: Versions) -> str:
    """The link's `vs` value: "STEP,B", either part empty when unset."""
    step = "" if vs.step is None else str(vs.step)
    return step if vs.b is None else f"{step},{vs.b}"


def versions_from_text(text) -> Versions:
    """A link's `vs` value back to Versions, or a clear error (the parts are checked by check_versions)."""
    text = str(text)
    if len(text) > MAX_VERSIONS_CHARS:
        raise InputError("the versions in the link (vs=) are too long")
    step, _, b = text.partition(",")
    step = step.strip()
    if step and not (step.isascii() and step.isdigit() and len(step) <= STEP_DIGITS):
        raise InputError(f"the training step in the link (vs=STEP,B) must be a whole number, got {step!r}")
    return versions_from_dict({"step": int(step) if step else None, "b": b.strip() or None})


def steps_of(engine) -> list[int]:
    """The snapshot steps a model ships ([] for none, or for a model not loaded from a directory)."""
    return snapshot_steps(engine.path) if getattr(engine, "path", None) is not None else []


def check_versions(vs: Versions, model: str, engines: dict) -> Versions:
    """The versions of a state or a link checked against the view's model and the models served:
    a step it ships a snapshot of; a B of the same resolution, at a step B ships."""
    engine = engines[model]
    if vs.step is not None:
        steps = steps_of(engine)
        if vs.step not in steps:
            raise no_snapshot(model, vs.step, steps)
    if vs.b is not None:
        b_model, b_step = parse_source(vs.b)
        if b_model not in engines:
            raise InputError(f"B {vs.b!r} is not a model here; choose one of {', '.join(engines)}")
        check_pair(model, engine, vs.b, engines[b_model])
        if b_step is not None and b_step not in steps_of(engines[b_model]):
            raise no_snapshot(b_model, b_step, steps_of(engines[b_model]))
    return vs
