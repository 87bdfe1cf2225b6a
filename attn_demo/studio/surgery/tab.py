"""The "What attention does" tab's handlers and wiring (its widgets: layout.py): intervene on the image
on screen and see what changes (issue #35).

The tab works on the image studio's view (the session's View: its model, render, clicked pixel,
layer and head). Switch attention off (the layer, the clicked pixel or a brush), hide a region
from every pixel, or redirect the clicked pixel or the brush to a target region; see before,
after and the difference with its scale in grey levels, and the numbers. Brushes and targets are
rectangles (two clicks on the tab's picture: corners; or typed as x0, y0, x1, y1 in the picture's
pixels, DISPLAY x DISPLAY as clicks are) or painted free hand on the layer's grid (a drag in the page,
web/paint.js, or one cell per click; "mask:N:BITS", serving/regions.py). The faithfulness sentence and the deletion curve are
on request (a button each: ~55 ms and ~1 s on a 32-px model), and so is D's view.

The intervention run last is part of the view (`View.intervention`): its state, link, history and
exports carry it (surgery/link.py), and a view that comes back with one (a link, a kept view, a
dropped PNG) shows it again when the tab is open. The tab redraws whenever the session's View is
set anew (the image kept, yet a click, a layer or an intervention changed), not only when the image
changes: the picture it shows is always the view's.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from .._gradio import gr
from ...checks import check_whole
from ...errors import AttnDemoError, InputError
from ...imaging import draw
from ...serving.regions import is_mask_text, mask_from_text, mask_to_text, parse_region, region_mask
from ...serving.surgery_result import outline
from .. import exports
from ..core import Studio
from ..guard import PRIVATE, gpu, guard
from ..intervene import Intervention, export_files, from_view, intervene
from ..view import DISPLAY, View
from .layout import ACTION_LABELS, PAINT_LABELS, REFRESH_IF_OPEN, SCOPE_LABELS, SurgeryWidgets
from .versions import VersionsHandlers, wire_versions

MEMO = 8                   # results kept per handler: a view set anew shows them without re-running


def box_text(box) -> str:
    if box is None or isinstance(box, str):
        return box or ""
    return ", ".join(str(int(v)) for v in box)


def box_of(text, what: str):
    """A typed or clicked rectangle (a tuple), a painted mask (its "mask:N:BITS" text, checked), or
    None for an empty box."""
    text = "" if text is None else str(text).strip()
    return parse_region(text, what) if text else None


def numbers(stats: dict) -> str:
    s = stats
    lines = [f"**{s['layer']} {s['action']}**: mean change **{s['mean_change_grey']:.2f}** grey levels, largest "
             f"**{s['max_change_grey']:.1f}** at image pixel ({s['max_change_at'][0]}, {s['max_change_at'][1]}); "
             f"{s['changed_pixels']} pixels changed by half a grey level or more"]
    touched = {k: v for k, v in s.items() if k in ("scope", "queries", "hidden_cells", "target_cells",
                                                   "removed_cells", "left_to_attend")}
    if touched:
        lines.append(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in touched.items()))
    if "intervene_ms" in s.get("timings_ms", {}):
        lines.append(f"re-rendered from the layer in {s['timings_ms']['intervene_ms']:.0f} ms")
    return "  \n".join(lines)


class SurgeryHandlers:
    """The tab's handlers: the session's View in, pictures and numbers out (no widget state of its own
    beyond the first corner of a rectangle being drawn)."""

    def __init__(self, studio: Studio):
        self.studio = studio
        self._d: dict[str, object] = {}          # a model's discriminator, or the message why there is none
        self._memo: dict = {}                    # (model, weights, args, spec) -> shown: recent results

    # ---------------------------------------------------------------- pictures
    def sketch(self, v: View, brush=None, target=None, corner=None) -> np.ndarray:
        """The image on screen at DISPLAY x DISPLAY, the brush and target outlined, the click and a
        pending corner marked."""
        image = self.studio.render(v.model, v.args).image
        pic = Image.fromarray(np.ascontiguousarray(image)).resize((DISPLAY, DISPLAY), Image.NEAREST)
        d = ImageDraw.Draw(pic)
        out = None
        for box, colour in ((brush, draw.MARKER_COLORS[0]), (target, draw.MARKER_COLORS[1])):
            if box is None:
                continue
            if not is_mask_text(box):
                d.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=tuple(colour), width=3)
                continue
            out = np.asarray(pic).copy() if out is None else out     # a painted mask: tinted, its edge drawn
            m = region_mask(box, (DISPLAY, DISPLAY))
            out[m] = (out[m] * 0.6 + np.asarray(colour) * 0.4).astype(np.uint8)
            out[outline(m, 2)] = colour
            pic = Image.fromarray(out)
            d = ImageDraw.Draw(pic)
        out = np.asarray(pic)
        for point, colour in ((v.click, draw.MARKER_COLORS[0]), (corner, draw.MARKER_COLORS[1])):
            if point is not None:
                out = draw.draw_marker(out.copy(), point[0] + 0.5, point[1] + 0.5, colour, 8)
        return out

    def run(self, v: View, spec: Intervention):
        """The intervention on the view's render: (surgery result, faithfulness or None)."""
        return intervene(self.studio.engine(v.model), self.studio.render(v.model, v.args), spec)

    def shown(self, v: View, spec: Intervention) -> list:
        """The result's picture, numbers, sentence and curve (SurgeryWidgets.shown[1:5]); the last MEMO
        are kept, so the view set anew by the run itself (the tab redraws on every new View) costs
        nothing."""
        key = (v.model, self.studio.engine(v.model).weights_sha256, repr(v.args), spec)
        if key not in self._memo:
            self._memo[key] = self._shown(v, spec)
            while len(self._memo) > MEMO:
                self._memo.pop(next(iter(self._memo)))
        return list(self._memo[key])

    def _shown(self, v: View, spec: Intervention) -> list:
        out, faith = self.run(v, spec)
        picture = out.picture(self.studio.scale(v.model, 256))
        if faith is None:
            return [picture, numbers(out.stats()), gr.skip(), gr.skip()]
        from ...serving.faithfulness import curve_picture
        curve = gr.update(value=curve_picture(faith), visible=True) if faith.curve is not None else \
            gr.update(value=None, visible=False)
        return [picture, numbers(out.stats()), f"**{faith.sentence()}** ({faith.layer}, image pixel "
                f"({faith.x}, {faith.y}); window {faith.window})", curve]

    # ---------------------------------------------------------------- handlers
    def on_refresh(self, open_, v: View, brush=None, target=None):
        """The tab opened, or a new View while it is open (a new image, or the same image with another
        click, layer or intervention: a link, a kept view, a dropped PNG, a new seed): the picture to
        paint on, and the view's intervention shown again. A view without one clears the last result
        (it was another view's) and keeps the brush and target being drawn."""
        if open_ != "open":
            return [gr.skip()] * 11
        side = str(self.grid_side(v))
        spec = v.intervention
        if spec is None:
            try:
                drawn = self.sketch(v, box_of(brush, "brush"), box_of(target, "target"))
            except AttnDemoError:                         # a half-typed box: the picture without it
                drawn = self.sketch(v)
            return [drawn, None, "", "", gr.update(value=None, visible=False)] + [gr.skip()] * 5 + [side]
        brush = spec.brush if spec.size == DISPLAY else None
        target = spec.target if spec.size == DISPLAY else None
        try:
            result = self.shown(v, spec)
        except AttnDemoError as e:                       # it no longer fits (the message says why)
            result = [None, f"The view's intervention cannot be shown: {e}", gr.skip(), gr.skip()]
        action = next((k for k, a in ACTION_LABELS.items() if a == spec.action), gr.skip())
        scope = ("the clicked pixel" if spec.x is not None else
                 "the pixels under the brush" if spec.brush is not None and spec.action != "hide" else
                 "the whole layer")
        return [self.sketch(v, brush, target), *result, action, scope, box_text(brush), box_text(target),
                spec.k if spec.action == "faithfulness" else gr.skip(), side]

    def on_corner(self, evt: gr.SelectData, paint, brush, target, corner, v: View):
        """A click on the tab's picture: the first corner of a rectangle, then the opposite one."""
        index = evt.index
        if not isinstance(index, (list, tuple)) or len(index) != 2:
            raise AttnDemoError("click inside the picture")
        x, y = (check_whole("click coordinate", c, 0, DISPLAY - 1) for c in index)
        mode = PAINT_LABELS.get(paint, paint)
        if mode.endswith("-paint"):                        # free hand: the clicked cell of the layer's grid
            return self.paint_cell(mode[:-len("-paint")], x, y, brush, target, v)
        if corner is None:
            return gr.skip(), gr.skip(), (x, y), self.sketch(v, box_of(brush, "brush"), box_of(target, "target"),
                                                            (x, y))
        (x0, y0) = corner
        box = (min(x0, x), min(y0, y), max(x0, x) + 1, max(y0, y) + 1)
        if mode == "target":
            target = box_text(box)
        else:
            brush = box_text(box)
        return brush, target, None, self.sketch(v, box_of(brush, "brush"), box_of(target, "target"))

    def grid_side(self, v: View) -> int:
        """The side of the view's layer's query grid: painted masks are drawn at it."""
        return self.studio.engine(v.model).capture(self.studio.render(v.model, v.args), v.map.layer).grid[0]

    def paint_cell(self, what: str, x: int, y: int, brush, target, v: View):
        """One cell painted into the brush or the target (a mask at the layer's grid; a rectangle there
        before is replaced)."""
        side = self.grid_side(v)
        old = brush if what == "brush" else target
        old = "" if old is None else str(old).strip()
        cells = mask_from_text(old, what).copy() if is_mask_text(old) else np.zeros((side, side), bool)
        if cells.shape[0] != side:                        # painted at another layer's grid: start anew
            cells = np.zeros((side, side), bool)
        cells[y * side // DISPLAY, x * side // DISPLAY] = True
        text = mask_to_text(cells)
        brush, target = (text, target) if what == "brush" else (brush, text)
        return brush, target, None, self.sketch(v, box_of(brush, "brush"), box_of(target, "target"))

    def on_boxes(self, brush, target, v: View):
        """A typed box: checked, and drawn."""
        b, t = box_of(brush, "brush"), box_of(target, "target")
        for box, what in ((b, "brush"), (t, "target")):
            if box is not None:
                region_mask(box, (DISPLAY, DISPLAY), what)              # inside the picture, not empty
        return self.sketch(v, b, t)

    def on_clear(self, v: View):
        return "", "", None, self.sketch(v)

    def on_run(self, action, scope, brush, target, v: View):
        """Switch off, hide or redirect on the view on screen; the view keeps the intervention."""
        action = ACTION_LABELS.get(action, action)
        scope = SCOPE_LABELS.get(scope, scope)
        b, t = box_of(brush, "brush"), box_of(target, "target")
        if action == "hide" and b is None:
            raise InputError("hide needs a brush: draw the region to hide (two clicks on the picture)")
        if action == "redirect" and t is None:
            raise InputError("redirect needs a target: draw the region to look at (choose 'target', two clicks)")
        if scope == "brush" and b is None:
            raise InputError("draw a brush first (two clicks on the picture), or choose another scope")
        spec = from_view(v, action, "brush" if action == "hide" else scope, b,
                         t if action == "redirect" else None)
        return [*self.shown(v, spec)[:2], replace(v, intervention=spec)]

    def on_faithfulness(self, k, v: View, curve: bool = False):
        """The clicked pixel's map tested: its k brightest key cells removed vs k random ones."""
        spec = from_view(v, "faithfulness", "click", k=check_whole("k", k, 1), curve=curve)
        return [*self.shown(v, spec), replace(v, intervention=spec)]

    def on_curve(self, k, v: View):
        return self.on_faithfulness(k, v, curve=True)

    def discriminator(self, model: str):
        """A model's D (loaded once), or the message why it has none."""
        if model not in self._d:
            from ...serving.discriminator import load_discriminator
            engine = self.studio.engine(model)
            try:
                self._d[model] = load_discriminator(engine.path) if engine.path else \
                    "this model ships no discriminator"
            except InputError as e:
                self._d[model] = str(e)
        return self._d[model]

    def on_d(self, v: View):
        """D's attention from the clicked pixel in each of D's layers, and D's score; for a model
        without D, the plain message."""
        D = self.discriminator(v.model)
        if isinstance(D, str):
            return None, D[0].upper() + D[1:] + "."
        if v.click is None:
            raise InputError("click a pixel of the image first")
        from ...serving.discriminator import discriminator_view
        from ...serving.engine import MapSettings
        image = self.studio.render(v.model, v.args).image
        res = image.shape[0]
        x, y = (c * res // DISPLAY for c in v.click)                   # the clicked image pixel
        dv = discriminator_view(D, image, x, y, v.args.label, head=v.map.head)
        side, scale, s = D.cfg.resolution, self.studio.scale(v.model, 256), MapSettings()
        tiles = [draw.overlay_picture(image, m.heat.numpy(), scale, s.alpha, s.cmap,
                                      (*draw.marker_point(m.x, m.y, (side, side), side * scale),
                                       draw.MARKER_COLORS[0], max(4, side * scale // 48))) for m in dv.maps]
        picture = draw.labelled_grid([tiles], [f"D {dv.score:+.2f}"], [m.layer for m in dv.maps])
        return picture, dv.describe().replace("\n", "  \n")

    def on_export(self, v: View):
        """before, after, difference PNGs (each carrying the view's state: dropped on the Export /
        import tab, they give this view back, intervention and all), the difference as .npy, the state."""
        if v.intervention is None:
            raise InputError("intervene first: nothing to export yet")
        out, _ = self.run(v, v.intervention)
        state = self.studio.state_dict(v)
        folder = self.studio.files.new_folder()
        stem = f"{exports.image_stem(v, self.studio.engine(v.model).cfg.resolution)}_{out.layer}_{out.action}"
        files = export_files(folder, stem, out)
        info = exports.png_info(state)
        for f in files:
            if f.suffix == ".png":
                with Image.open(f) as im:
                    im.load()
                    im.save(f, pnginfo=info)
        path = folder / f"{stem}_state.json"
        path.write_text(json.dumps(state, indent=2) + "\n")
        return [str(f) for f in files + [path]]


def wire_surgery(sw: SurgeryWidgets, h: SurgeryHandlers, w) -> None:
    """The tab's events; `w` is the image studio's Widgets (its session View, image and page data)."""
    view = w.view
    versions = VersionsHandlers(h.studio) if sw.versions is not None else None
    shown = sw.shown + (sw.versions.shown if versions is not None else [])

    def refresh(v, brush, target):    # the tab and its versions, in one request
        out = h.on_refresh("open", v, brush, target)
        return out + versions.on_refresh("open", v) if versions is not None else out
    if sw.tab is not None:
        sw.tab.select(guard(refresh), [view, sw.brush, sw.target], shown, **PRIVATE)
    # Every View set anew (a render, a click, a layer, a link or kept view, the tab's own run), not
    # only a new image: a kept image with another view must redraw too (Gradio's State.change fires
    # for each new View object; the image's change does not when the same picture comes back).
    view.change(None, None, None, js=REFRESH_IF_OPEN, **PRIVATE)
    sw.refresh_go.click(guard(refresh), [view, sw.brush, sw.target], shown, **PRIVATE)

    def page_data(live, v):       # the view's link, for history and favourites (keep.js)
        return h.studio.page_data(v, bool(live))
    sw.sketch.select(guard(h.on_corner), [sw.paint, sw.brush, sw.target, sw.corner, view],
                     [sw.brush, sw.target, sw.corner, sw.sketch], **PRIVATE)
    for box in (sw.brush, sw.target):
        box.submit(guard(h.on_boxes), [sw.brush, sw.target, view], [sw.sketch], **PRIVATE)
    if sw.paint_go is not None:
        sw.paint_go.click(guard(h.on_boxes), [sw.brush, sw.target, view], [sw.sketch], **PRIVATE)
    sw.clear_btn.click(guard(h.on_clear), [view], [sw.brush, sw.target, sw.corner, sw.sketch], **PRIVATE)
    sw.run_btn.click(gpu(guard(h.on_run)), [sw.action, sw.scope, sw.brush, sw.target, view],
                     [sw.picture, sw.info, view], **PRIVATE).success(
        guard(page_data), [w.live_toggle, view], [w.view_data], **PRIVATE)
    for button, fn in ((sw.faith_btn, gpu(guard(h.on_faithfulness))), (sw.curve_btn, gpu(guard(h.on_curve)))):
        button.click(fn, [sw.k, view], [sw.picture, sw.info, sw.faith, sw.curve_img, view],
                     **PRIVATE).success(guard(page_data), [w.live_toggle, view], [w.view_data], **PRIVATE)
    sw.d_btn.click(gpu(guard(h.on_d)), [view], [sw.d_img, sw.d_info], **PRIVATE)
    sw.export_btn.click(gpu(guard(h.on_export)), [view], [sw.export_files], **PRIVATE)
    if versions is not None:
        wire_versions(sw.versions, versions, w)
