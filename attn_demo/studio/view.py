"""What the studio shows, as data: the `View`, and its JSON state (export and import).

A View is everything on screen: the model, what to render (`RenderArgs`),
where the user clicked and pinned, how the map is drawn (`MapSettings`), and in "What attention
does" the intervention shown and the training versions on screen (`surgery.link.Versions`: the
timeline's step, A/B's B). Its JSON state loads back to the same view; states written by earlier
versions (version 1, the same keys) load unchanged.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import numpy as np

from ..checks import check_finite, check_seed, check_whole, parse_head, parse_numbers
from ..errors import InputError
from ..models.latents import check_latent
from ..serving.engine import Engine, MapSettings, RenderArgs
from ..serving.probe import LOOKED_AT_BY, LOOKS_AT
from .desk import DISPLAY, TabView
from .state import read_state
from .surgery.link import (NO_VERSIONS, Versions, check_intervention, check_versions, intervention_from_text,
                           intervention_to_text, versions_from_dict, versions_from_text, versions_to_dict,
                           versions_to_text)

MAX_PINS = 4
MAX_SLIDERS = 8          # slider widgets on the page (a model uses as many as it has directions)
STATE_VERSION = 1
MODE_LABELS = {"where this pixel looks": LOOKS_AT, "what looks at this pixel": LOOKED_AT_BY}


@dataclass
class View(TabView):
    """Everything on screen: what to render, where the user clicked, how to draw the map."""

    model: str
    args: RenderArgs
    click: tuple[int, int] | None = None          # in DISPLAY pixels
    pins: list[tuple[int, int]] = field(default_factory=list)
    map: MapSettings = field(default_factory=MapSettings)
    intervention: object = None                    # intervene.Intervention shown in "What attention does"
    versions: Versions = NO_VERSIONS               # its timeline step and A/B's B (surgery/versions.py)

    # what every tab's view answers (desk.TabView), from the render arguments
    @property
    def seed(self) -> int:
        return self.args.seed

    @property
    def psi(self) -> float:
        return self.args.psi

    @property
    def label(self):
        return self.args.label

    @property
    def sliders(self) -> tuple[float, ...]:
        return tuple(self.args.sliders)


def check_point(p, size: int = DISPLAY) -> tuple[int, int]:
    """[x, y] inside a size x size picture."""
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise InputError(f"a point is [x, y], got {p!r}")
    return check_whole("x", p[0], 0, size - 1), check_whole("y", p[1], 0, size - 1)


def state_dict(view: View, weights_sha256: str) -> dict:
    """The view as a JSON-able state (the keys of version 1)."""
    m = view.map
    return {"app": "attn-demo", "version": STATE_VERSION, "model": view.model, "weights_sha256": weights_sha256,
            "seed": view.args.seed, "truncation": view.args.psi, "class": view.args.label,
            "sliders": list(view.args.sliders), "click": list(view.click) if view.click else None,
            "pins": [list(p) for p in view.pins], "display_size": DISPLAY, "layer": m.layer, "head": m.head,
            "mode": m.mode, "opacity": m.alpha, "colormap": m.cmap, "colour_scale": m.norm,
            **({"latent": list(view.args.latent)} if view.args.latent is not None else {}),
            **({"intervention": view.intervention.to_dict()} if view.intervention is not None else {}),
            **({"versions": versions_to_dict(view.versions)} if view.versions != NO_VERSIONS else {})}


def parse_state(text: str | bytes | dict, engines: dict[str, Engine]) -> tuple[View, list[str]]:
    """A state (its JSON, or the dict desk.read_state made of it) -> View, validated against the
    models in `engines`; warnings (e.g. other weights) returned alongside."""
    data = text if isinstance(text, dict) else read_state(text)
    if data.get("version") != STATE_VERSION:
        raise InputError(f"state version {data.get('version')!r} is not supported")
    model = data.get("model")
    if not isinstance(model, str) or model not in engines:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(engines)}")
    engine = engines[model]
    warnings = []
    if data.get("weights_sha256") != engine.weights_sha256:
        warnings.append("this state was saved with other weights for this model: the image may differ")
    if data.get("display_size", DISPLAY) != DISPLAY:
        raise InputError("the state's display size does not match this app")
    sliders = data.get("sliders") or []
    if not isinstance(sliders, list):
        raise InputError("sliders must be a list of numbers")
    latent = data.get("latent")                   # a latent of its own (an inverted picture); older states have none
    if latent is not None:
        latent = tuple(check_latent(latent, engine.cfg.z_dim).tolist())
    args = RenderArgs(check_seed(data.get("seed")), check_finite("truncation", data.get("truncation"), 0, 1),
                      data.get("class"), tuple(check_finite("slider", v) for v in sliders), latent)
    engine.latent(args)                           # validates class and sliders for this model
    pins = data.get("pins") or []
    if not isinstance(pins, list) or len(pins) > MAX_PINS:
        raise InputError(f"at most {MAX_PINS} pins")
    settings = MapSettings(data.get("layer"), data.get("head"), data.get("mode", LOOKS_AT),
                           data.get("opacity", 0.6), data.get("colormap", "inferno"),
                           data.get("colour_scale", "peak")).checked()     # states before it: each map's peak
    if settings.layer is not None and settings.layer not in engine.layers:
        raise InputError(f"unknown layer {settings.layer!r}")
    click = check_point(data["click"]) if data.get("click") is not None else None
    spec = check_intervention(data.get("intervention"), engine)     # states before #35 have none
    versions = NO_VERSIONS if data.get("versions") is None else \
        check_versions(versions_from_dict(data["versions"]), model, engines)
    return View(model, args, click, [check_point(p) for p in pins], settings, spec, versions), warnings


# A view in a URL's query string: ?model=emoji32&seed=10&class=...&psi=0.8&sliders=1.5,0&x=208&y=336
URL_KEYS = ("model", "seed", "class", "psi", "sliders", "x", "y", "layer", "head", "mode", "latent", "iv", "vs")


def latent_to_text(latent) -> str:
    """A latent in a link: its float32 values, little-endian, base64url without padding (exact)."""
    raw = np.asarray(latent, dtype="<f4").tobytes()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def latent_from_text(text: str, z_dim: int) -> tuple[float, ...]:
    try:
        raw = base64.urlsafe_b64decode(str(text) + "=" * (-len(str(text)) % 4))
    except (ValueError, TypeError):
        raise InputError("latent in the link is not valid base64") from None
    if len(raw) != 4 * z_dim:
        raise InputError(f"latent in the link has {len(raw)} bytes; this model's is {4 * z_dim}")
    return tuple(check_latent(np.frombuffer(raw, "<f4").tolist(), z_dim).tolist())


def query_of(view: View) -> str:
    """The query string of a link that opens on this view (the image and its clicked map)."""
    a, m = view.args, view.map
    params = {"model": view.model, "seed": a.seed, "psi": f"{a.psi:g}"}
    if a.label is not None:
        params["class"] = a.label
    if any(a.sliders):
        params["sliders"] = ",".join(f"{v:g}" for v in a.sliders)
    if view.click is not None:
        params["x"], params["y"] = view.click
    if m.layer is not None:
        params["layer"] = m.layer
    if m.head is not None:
        params["head"] = m.head
    if m.mode != LOOKS_AT:
        params["mode"] = m.mode
    if a.latent is not None:
        params["latent"] = latent_to_text(a.latent)
    if view.intervention is not None:
        params["iv"] = intervention_to_text(view.intervention)
    if view.versions != NO_VERSIONS:
        params["vs"] = versions_to_text(view.versions)
    return "?" + urlencode(params)


def view_from_query(params, engines: dict[str, Engine], default: View) -> View | None:
    """The view a link's query string names, validated like a state file; None when it names none."""
    given = {k: params[k] for k in URL_KEYS if k in params}
    if not given:
        return None
    model = given.get("model", default.model)
    if model not in engines:
        raise InputError(f"unknown model {model!r} in the link; choose one of {', '.join(engines)}")
    engine = engines[model]

    def number(key, fallback):
        try:
            return float(given[key]) if key in given else fallback
        except ValueError:
            raise InputError(f"{key} in the link must be a number, got {given[key]!r}") from None
    label = given.get("class", default.args.label if model == default.model else None)
    if label is None and engine.cfg.num_classes:
        label = engine.class_names[0]
    latent = latent_from_text(given["latent"], engine.cfg.z_dim) if "latent" in given else None
    args = RenderArgs(check_seed(number("seed", default.args.seed)), check_finite("psi", number("psi", default.args.psi)),
                      label, parse_numbers("sliders", given.get("sliders", "")), latent)
    engine.latent(args)                                   # validates class and sliders for this model
    click = None
    if "x" in given or "y" in given:
        click = check_point([number("x", -1), number("y", -1)])
    settings = replace(default.map, layer=given.get("layer") or None, head=parse_head(given.get("head")),
                       mode=given.get("mode", LOOKS_AT)).checked()
    if settings.layer is not None and settings.layer not in engine.layers:
        raise InputError(f"unknown layer {settings.layer!r} in the link")
    if settings.head is not None and settings.head >= engine.cfg.heads:
        raise InputError(f"head {settings.head} in the link: this model has {engine.cfg.heads} head(s), "
                         f"0..{engine.cfg.heads - 1}")
    spec = check_intervention(intervention_from_text(given["iv"]), engine) if "iv" in given else None
    versions = check_versions(versions_from_text(given["vs"]), model, engines) if "vs" in given else NO_VERSIONS
    return View(model, args, click, [], settings, spec, versions)
