"""How much each attention layer changes the picture: render, switch the layer off (gamma 0, and the
global-context path's gamma_ctx where there is one), render again, and report the mean absolute
difference in grey levels (0-255) over many renders.

A layer whose gamma stayed near 0 in training shows maps that do not shape the image; this says
how much they do, per layer, for image models and canvas models alike:

    python scripts/attention_effect.py --weights weights/emoji32 --seeds 0-31
    python scripts/attention_effect.py --weights weights/textures64 --seeds 0-13 --side 256

For a canvas model it also says what carries a canvas's overall look instead: each canvas is
painted again with the global latent of seed + 100 (local latents kept), and with the local
latents of seed + 100 (global kept); it reports the mean pixel change and the change of the
canvas's mean colour for each.
"""

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch


from attn_demo.checks import parse_seeds
from attn_demo.models.checkpoint import load_config
from attn_demo.quality.alignment import attention_off


def renderer(weights: Path, side: int):
    """(engine, render(seed) -> uint8 image, attention modules by layer name)."""
    if load_config(weights).kind == "canvas":
        from attn_demo.serving.canvas import CanvasEngine
        engine = CanvasEngine.from_pretrained(weights, device="cpu")
        n = max(engine.cfg.num_classes, 1)
        render = lambda s: engine.render(engine.field(s, side, side), s % n if engine.cfg.num_classes else None,  # noqa: E731
                                         "both").image
        layers = engine.generator.attention_layers()
    else:    # the trained generator, not the served one (which folds gamma into its output weights)
        from attn_demo.models.checkpoint import load_pretrained
        from attn_demo.imaging import draw
        from attn_demo.serving.engine import Engine
        engine = Engine.from_pretrained(weights, device="cpu")
        G = load_pretrained(weights).eval()
        n = engine.cfg.num_classes

        def render(s):
            y = torch.tensor([s % n]) if n else None
            return draw.to_uint8(G(G.latent_from_seeds([s]), y).float().numpy())[0]
        layers = G.attention_layers()
    return engine, render, layers


@torch.inference_mode()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--seeds", default="0-31")
    p.add_argument("--side", type=int, default=256, help="canvas side for canvas models")
    args = p.parse_args()
    engine, render, layers = renderer(args.weights, args.side)
    seeds = parse_seeds(args.seeds)
    base = {s: render(s).astype(np.float64) for s in seeds}
    out = {"model": engine.name, "weights_sha256": engine.weights_sha256, "seeds": args.seeds, "layers": {}}
    for name, module in layers.items():
        gamma = float(module.gamma)
        with attention_off({name: module}):             # gamma 0, and gamma_ctx 0 where there is one
            diffs = [float(np.abs(base[s] - render(s)).mean()) for s in seeds]
        out["layers"][name] = {"gamma": gamma, "mean_abs_diff": statistics.fmean(diffs),
                               "max_of_means": max(diffs)}
        print(f"{name}: gamma {gamma:+.4f}, switching it off changes a pixel by "
              f"{statistics.fmean(diffs):.2f} grey levels on average (largest image mean {max(diffs):.2f})")
    if engine.cfg.kind == "canvas":
        out["latents"] = swap_latents(engine, seeds, args.side, base)
    print(json.dumps(out, indent=2))


def swap_latents(engine, seeds, side: int, base: dict) -> dict:
    """A canvas painted again with another seed's global latent, then with another seed's local
    latents: the mean change of a pixel and of the canvas's mean colour (grey levels)."""
    n, zl, result = max(engine.cfg.num_classes, 1), engine.cfg.local_values, {}
    for part, rows in (("global", slice(zl, None)), ("local", slice(0, zl))):
        pixel, colour = [], []
        for s in seeds:
            field = engine.field(s, side, side)
            field[rows] = engine.field(s + 100, side, side)[rows]
            image = engine.render(field, s % n if engine.cfg.num_classes else None, "both").image.astype(np.float64)
            pixel.append(float(np.abs(base[s] - image).mean()))
            colour.append(float(np.abs(base[s].mean((0, 1)) - image.mean((0, 1))).mean()))
        result[part] = {"pixel": statistics.fmean(pixel), "mean_colour": statistics.fmean(colour)}
        what = "global latent" if part == "global" else "local latents"
        print(f"another seed's {what}: a pixel changes by {result[part]['pixel']:.1f} grey levels, "
              f"the canvas's mean colour by {result[part]['mean_colour']:.1f}")
    return result


if __name__ == "__main__":
    main()
