"""What an intervention costs (issue #35): re-rendering from the intervened layer against a full
render, a faithfulness score with its re-renders batched, and D's maps for one click."""
from __future__ import annotations

from pathlib import Path

import torch

from attn_demo.models.networks import Discriminator
from attn_demo.serving.discriminator import discriminator_view
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.faithfulness import faithfulness
from attn_demo.serving.regions import box_mask
from attn_demo.serving.surgery import Surgery

from .common import timings


@torch.inference_mode()
def bench_surgery(model_dir: Path, quick: bool) -> dict:
    """One model's rows: a full render; keeping the layer's input (`Surgery`, once per render); switching
    the last layer off (the layer and what follows it, before and after in one batch of 2); hiding a
    region; a faithfulness score (k 5, 8 draws: 10 re-renders in one batch) and its deletion curve; D's
    maps for one click (D with random weights: the shipped models hold no D, and the cost does not depend
    on the weights)."""
    engine = Engine.from_pretrained(model_dir, device="cpu")
    side = engine.cfg.resolution
    args = RenderArgs(42, 1.0, 0 if engine.cfg.num_classes else None)
    result = engine.render(args)
    layer = engine.layers[-1]
    s = Surgery(engine, result, layer)
    repeat = 5 if quick else 20
    region = box_mask((0, 0, side // 4, side), (side, side))
    D = Discriminator(engine.cfg).eval()
    image = result.image
    rows = {
        "model": model_dir.name, "layer": layer,
        "full_render": timings(lambda: engine.render(args), repeat=repeat),
        "keep_layer_input": timings(lambda: Surgery(engine, result, layer), repeat=repeat),
        "switch_off": timings(s.switch_off, repeat=repeat),
        "hide": timings(lambda: s.hide(region), repeat=repeat),
        "faithfulness": timings(lambda: faithfulness(s, side // 2, side // 3), repeat=repeat),
        "faithfulness_curve": timings(lambda: faithfulness(s, side // 2, side // 3, curve=True), warmup=1,
                                      repeat=2 if quick else 5),
        "d_maps_one_click": (timings(lambda: discriminator_view(D, image, side // 2, side // 3,
                                                                 0 if engine.cfg.num_classes else None),
                                     repeat=repeat) if D.attention_layers() else None),
    }
    rows["switch_off_vs_full_render"] = rows["switch_off"]["median_ms"] / rows["full_render"]["median_ms"]
    rows["faithfulness_renders"] = 10
    return rows
