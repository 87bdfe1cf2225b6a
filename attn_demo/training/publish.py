"""Export a training run's EMA generator as a model directory, with its model card.

    python -m attn_demo export runs/emoji32 --out weights/emoji32
    python -m attn_demo export runs/emoji32 --step 14000 --out /tmp/emoji32-14k   # a kept checkpoint

The card (README.md) is rebuilt from the files beside the weights:
training.json (provenance, written here), metrics.json (written by `eval`)
and directions.safetensors (written by `directions`), so each step can be
re-run on its own and the card stays true.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..models.checkpoint import (CARD_FILE, CONFIG_FILE, DIRECTIONS_FILE, DISCRIMINATOR_FILE, WEIGHTS_FILE,
                                 atomic_write, file_sha256, load_config, load_directions, save_discriminator,
                                 save_pretrained)
from ..models.config import TrainConfig
from ..errors import CheckpointError
from ..models.networks import Discriminator, Generator, build_generator
from .grow import attach_fade
from .state import (CHECKPOINT, KEPT_DIR, kept_path, kept_steps, load_discriminator_state, load_ema_generator,
                    read_configs)

TRAINING_FILE = "training.json"
METRICS_FILE = "metrics.json"
ATTENTION_FILE = "attention.json"  # how query-dependent the maps are: scripts/attention_spread.py --out
KEPT_REASON = "kept"             # training.json's stop_reason for an export of a kept checkpoint
NOTES_FILE = "NOTES.md"          # a model directory's hand-kept findings, quoted in its card
REPO = Path(__file__).resolve().parents[2]


def portable_path(path, home: str | None = "weights") -> str:
    """A folder as a published file (a model card, an index's header) names it: relative to the
    repository where it lies inside it, as typed where it was typed relative, and elsewhere as
    HOME/NAME (a model directory: weights/NAME, where the studio finds models), so no machine's
    absolute path is shipped; with home None an absolute path outside the repository stays."""
    path = Path(path)
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return f"{home}/{path.name}" if path.is_absolute() and home else path.as_posix()


@torch.no_grad()
def standing_stats(G: Generator, batches: int = 32, batch_size: int = 64, seed: int = 0) -> Generator:
    """Recompute BN statistics (and let spectral norm's power iteration converge) for
    the EMA weights, by averaging over many training-mode forward passes (BigGAN's
    "standing stats"). The EMA copy otherwise carries the live G's statistics."""
    gen = torch.Generator().manual_seed(seed)
    for m in G.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None                  # cumulative average over all batches
    G.train()
    cfg = G.cfg
    for _ in range(batches):
        z = G.sample_latent(batch_size, generator=gen)
        y = torch.randint(0, cfg.num_classes, (batch_size,), generator=gen) if cfg.num_classes else None
        G(z, y)
    for m in G.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    return G.eval()


def export_run(run_dir: Path, out: Path, data_dir: Path | None = None, step: int | None = None) -> Path:
    """Write the EMA generator of run_dir/checkpoint.safetensors (or, with `step`, of the
    checkpoint kept at that step by --keep-every) to a model directory."""
    run_dir, out = Path(run_dir), Path(out)
    ckpt = run_dir / CHECKPOINT
    if not ckpt.exists():
        raise CheckpointError(f"{ckpt} not found: is {run_dir} a training run directory?")
    if step is not None:
        ckpt = kept_path(run_dir, step)
        if not ckpt.exists():
            kept = kept_steps(run_dir)
            raise CheckpointError(f"no checkpoint kept at step {step} in {run_dir / KEPT_DIR}; "
                                  + (f"kept steps: {', '.join(map(str, kept))}" if kept else
                                     "the run kept none (train with --keep-every N to keep some)"))
    model_cfg, train_cfg, _ = read_configs(ckpt)
    G_ema = build_generator(model_cfg)
    if train_cfg.fade_in:                      # the checkpoint's G_ema holds a fade-in head (training/grow.py)
        attach_fade(G_ema)
    progress = load_ema_generator(ckpt, G_ema)  # only G_ema: no D, optimizer or pretrained branch is built
    fade = float(G_ema.fade.alpha) if train_cfg.fade_in else None
    if fade is not None:
        G_ema.fade = None                      # never shipped: a model directory is the plain generator
        if fade < 1:
            print(f"warning: exported during the fade-in (alpha {fade:.3f} < 1): the plain generator is not "
                  "yet what the discriminator judged")
    G_ema = standing_stats(G_ema)
    summary = _read_json(run_dir / "summary.json")
    run_info = _read_json(run_dir / "config.json")
    data_info = run_info.get("data", {})
    manifest = _read_json(Path(data_dir) / "manifest.json") if data_dir else {}
    data_folder = Path(data_dir) if data_dir else Path(data_info["source"]) if data_info.get("source") else None
    if not manifest and data_folder is not None:
        manifest = _read_json(data_folder / "manifest.json")
    attribution = manifest.get("attribution", "")
    if not attribution and data_folder is not None and (data_folder / "ATTRIBUTION.txt").is_file():
        # the folder's own attribution (the texture builder writes the licence's terms there)
        attribution = " ".join((data_folder / "ATTRIBUTION.txt").read_text().split())
    training = {
        "steps": progress["step"], "images_seen": progress["images_seen"],
        "wall_time_s": round(progress["elapsed"], 1),
        "hardware": summary.get("hardware", "unknown"), "world_size": summary.get("world_size", 1),
        "stop_reason": summary.get("stop_reason", "unknown") if step is None else KEPT_REASON,
        "checkpoint": str(ckpt.relative_to(run_dir)), "torch": summary.get("torch", torch.__version__),
        "train_config": train_cfg.to_dict(), "data": data_info,
        "attribution": attribution, "data_source": manifest.get("package", manifest.get("source", "")),
        "gamma": {n: float(m.gamma.detach()) for n, m in G_ema.attention_layers().items()},
        **({"fade_alpha": fade} if fade is not None else {}),
        "run_command": f"python -m attn_demo train --data {portable_path(data_info.get('source', 'DATA'), None)} "
                       f"--out {portable_path(run_dir, None)}",
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / TRAINING_FILE, (json.dumps(training, indent=2) + "\n").encode())
    save_pretrained(out, G_ema)
    if model_cfg.kind != "canvas":
        # D of the same step beside G: the studio's view of D's attention, and a later warm start can
        # take both (a fresh D sent a warm-started G poor gradients: docs/ATTENTION.md, paired runs)
        D = Discriminator(model_cfg)
        load_discriminator_state(ckpt, D)
        save_discriminator(out, D)
    write_card(out)
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def write_card(model_dir: Path) -> str:
    """(Re)write README.md of a model directory from what lies beside the weights (and NOTES.md,
    where one is kept: findings that no file beside the weights records)."""
    model_dir = Path(model_dir)
    shown = portable_path(model_dir)
    cfg = load_config(model_dir)
    training = _read_json(model_dir / TRAINING_FILE)
    metrics = _read_json(model_dir / METRICS_FILE)
    tc = TrainConfig.from_dict(training["train_config"]) if "train_config" in training else None
    lines = [f"# {model_dir.name}", "", _card_intro(cfg, shown), ""]
    if cfg.class_names:
        lines += ["Classes: " + ", ".join(cfg.class_names), ""]
    lines += _card_training(training, tc)
    if metrics:
        lines += ["## Quality", "", metrics.get("table", ""), "", metrics.get("note", ""), ""]
    lines += _card_attention(model_dir)
    lines += _card_neighbours(model_dir)
    lines += _card_directions(model_dir, cfg, training)
    if (model_dir / NOTES_FILE).is_file():    # what measurements around the model found, kept by hand
        lines += ["## Notes", "", (model_dir / NOTES_FILE).read_text().strip(), ""]
    lines += _card_licence(training)
    lines += _card_snapshots(model_dir)
    lines += ["## Files", "", f"- `{CONFIG_FILE}`, `{WEIGHTS_FILE}` "
              f"(sha256 `{file_sha256(model_dir / WEIGHTS_FILE)[:16]}…`)"]
    if (model_dir / DISCRIMINATOR_FILE).is_file():
        lines += [f"- `{DISCRIMINATOR_FILE}`: the run's discriminator at the same step (the studio's view of "
                  "D's attention; a warm start can take it)"]
    lines += [""]
    text = "\n".join(lines)
    atomic_write(model_dir / CARD_FILE, text.encode())
    return text


def _card_intro(cfg: ModelConfig, shown: str) -> str:
    """The card's first paragraph: what the model is and how to run it."""
    conditional = f", conditional on {cfg.num_classes} classes" if cfg.num_classes else ""
    attn = ", ".join(f"{r}x{r}" for r in cfg.g_attn)
    if cfg.kind == "canvas":
        cell = 2 ** cfg.g_up
        noise = f" and {cfg.g_noise} per-pixel noise channel{'s' * (cfg.g_noise > 1)}" if cfg.g_noise else ""
        intro = (f"A canvas generator (models/canvas.py): a field of latents, {cfg.z_local} local values per "
                 f"{cell}x{cell}-px cell{noise} plus a global z of {cfg.z_dim}, painted by wrapping convolutions and "
                 f"self-attention without position (at {attn} of a {cfg.resolution}-px crop, i.e. 1/"
                 f"{cfg.resolution // cfg.g_attn[0]} of any canvas){conditional}, width {cfg.g_width}. It paints any "
                 f"size in multiples of {cell} px that tiles in both axes, in x only (a band) or not at all: "
                 f"`python -m attn_demo generate --weights {shown} --seed 7 --width 1024 --height 1024 "
                 "--tile both --out tile.png`, or the studio's Textures tab.")
    else:
        intro = (f"A SAGAN-style generator ({cfg.resolution}x{cfg.resolution}, z_dim {cfg.z_dim}, "
                 f"width {cfg.g_width}, self-attention at {attn}{conditional}), "
                 "trained with attn-demo. Load it with `Engine.from_pretrained` or "
                 f"`python -m attn_demo generate --weights {shown}`.")
    return intro


def _card_training(training: dict, tc: TrainConfig | None) -> list[str]:
    """## Training: the data, steps, time and hyper-parameters of the run (none for an imported model)."""
    if not training:
        return []
    data = training.get("data", {})
    lines = ["## Training", "",
             f"- data: {data.get('images', '?')} images from `{training.get('data_source') or data.get('source', '?')}`"
             f" (content hash {data.get('sha256', '?')})",
             f"- steps: {training['steps']:,} at batch {tc.batch_size if tc else '?'} "
             f"({training['images_seen']:,} images seen)",
             f"- wall time: {training['wall_time_s'] / 3600:.2f} h on {training['hardware']} "
             + (f"(a checkpoint kept along a longer run; torch {training['torch']})"
                if training['stop_reason'] == KEPT_REASON else
                f"(stopped by {training['stop_reason']}; torch {training['torch']})"),
             ]
    if tc:
        lines.append(f"- hinge loss, Adam G {tc.lr_g:g} / D {tc.lr_d:g}, betas ({tc.beta1:g}, {tc.beta2:g}), "
                     f"EMA {tc.ema_decay:g} from step {tc.ema_start}, DiffAugment {', '.join(tc.diffaug) or 'off'}")
    lines.append("- final attention gamma: " + ", ".join(f"{k} {v:+.4f}" for k, v in training["gamma"].items()))
    lines.append("")
    return lines


def _card_neighbours(model_dir: Path) -> list[str]:
    """## Does it copy its training images? (where `index` wrote neighbours.json)"""
    neighbours = _read_json(model_dir / "neighbours.json")
    if not neighbours.get("table"):
        return []
    crops = neighbours.get("unit") == "crops"
    what = ("grid crops of the training textures (crops of whole textures are held out together; the "
            "samples are crop-size canvases)" if crops else "images")
    return ["## Does it copy its training images?", "",
            "The feature distance (the feature net's normalised features) from each image to its nearest "
            f"training image, for {neighbours['samples']['n']} samples and for {neighbours['held_out']} real "
            f"{what} held out of an index of the other {neighbours['index_images']} "
            "(`python -m attn_demo index --weights DIR --data DIR`; the studio shows the nearest "
            "training images of any image, or of the window around a canvas's clicked pixel, from "
            "`neighbours.safetensors`). Samples much closer than held-out real images would be copies.",
            "", neighbours["table"], ""]


def _card_directions(model_dir: Path, cfg: ModelConfig, training: dict) -> list[str]:
    """## Slider directions and their measured ranges (where directions.safetensors lies)."""
    if not (model_dir / DIRECTIONS_FILE).exists():
        return []
    # the folder this model trained on (training.json), not one demo set's: the ranges are measured on it
    source = training.get("data", {}).get("source")
    folder = portable_path(source, home=None) if source else "DIR"
    lines = ["## Slider directions", "",
             "`directions.safetensors` holds principal directions of the generator "
             "(GANSpace-style, `python -m attn_demo directions`), each with its slider's range: "
             "where the samples stay on the real images' manifold (training/directions.py, "
             f"`--feature-net weights/feature_net --data {folder}`; ±2 where not measured).", ""]
    directions = load_directions(model_dir, cfg.z_dim)
    lines += [f"- {label}: ±{span:g}" for label, span in zip(directions.labels, directions.spans)] + [""]
    return lines


def _card_attention(model_dir: Path) -> list[str]:
    """## Attention maps: how much each pixel's map differs from the others' (attention.json, written
    by scripts/attention_spread.py for these weights; a file measured on other weights is left out)."""
    a = _read_json(model_dir / ATTENTION_FILE)
    if not a.get("layers") or a.get("weights_sha256") != file_sha256(model_dir / WEIGHTS_FILE):
        return []
    pct = lambda v: f"{100 * v:.1f} %"                      # noqa: E731
    rows = ["| layer | total variation from the image's mean map | entropy / uniform | peak on the common cell "
            "| on registers | on the null slot | γ |", "|---|---|---|---|---|---|---|"]
    for name, f in a["layers"].items():
        gamma = f"{f['gamma']:+.3f}" if "head" not in name else ""
        rows.append(f"| {name} | {f['tv_from_mean']:.3f} | {pct(f['entropy_of_uniform'])} | "
                    f"{pct(f['peak_on_common_cell'])} | {pct(f['register_share'])} | {pct(f['null_share'])} | {gamma} |")
    return ["## Attention maps", "",
            f"Medians over {a['images_per_layer']} renders (seeds {a['seeds']}"
            + (" × every class" if a["images_per_layer"] > 16 else "") + f", ψ {a['psi']:g}"
            + (f"; seamless tiles of {a['canvas_cells']} × {a['canvas_cells']} cells" if a.get("canvas_cells") else "")
            + ") of each query pixel's "
            "\"looks at\" map (the key cells' part of its row, as drawn): its total-variation distance from the "
            "image's mean map (0: every pixel looks at the same place, 1: disjoint maps), its entropy as a share "
            "of a uniform map's, the share of the image's pixels whose map peaks on the cell most of them peak on, "
            "and the mean share of each row on the register slots and on the null slot "
            "(docs/ATTENTION.md, \"Query-dependent maps\"). "
            f"`python scripts/attention_spread.py --weights {portable_path(model_dir)} --seeds {a['seeds']} "
            f"--psi {a['psi']:g} --out {portable_path(model_dir)}/{ATTENTION_FILE}`"
            + (f" ({a['measured']})" if a.get("measured") else "") + ".", "", *rows, ""]


def _card_snapshots(model_dir: Path) -> list[str]:
    """## Training timeline: the snapshots beside the weights (models/snapshots.py), or why there are none."""
    from ..models.snapshots import SNAPSHOTS_FILE, snapshot_steps
    steps = snapshot_steps(model_dir)
    if not steps:
        return ["## Training timeline", "",
                "No training snapshots ship with this model: the checkpoints its run kept no longer exist, so "
                "the studio offers no timeline (and no A/B between steps) for it. (Where a run's kept "
                "checkpoints exist, `python -m attn_demo snapshots --run RUN --out DIR` writes them.)", ""]
    return ["## Training timeline", "",
            f"`{SNAPSHOTS_FILE}` holds {len(steps)} EMA generator snapshots (float16) at steps "
            f"{', '.join(f'{s:,}' for s in steps)}: the studio's timeline and A/B, `/timeline` and "
            f"`python -m attn_demo timeline --weights {portable_path(model_dir)} --seed 42` show the map, "
            "gamma and the image at each.", ""]


def _card_licence(training: dict) -> list[str]:
    """## Licence and attribution, as the training images' licence asks."""
    if not training.get("attribution"):
        return []
    share_alike = "BY-SA" in training["attribution"].upper().replace(" ", "-")
    return ["## Licence and attribution", "", f"Training images: {training['attribution']}",
            "The weights are released under CC BY-SA 3.0, as the training images' licence asks of what is "
            "made from them (share alike); credit the images' authors above." if share_alike else
            "The weights are released under the MIT licence.", ""]


def read_log(run_dir: Path) -> list[dict]:
    """The metric rows of log.jsonl that lead to the current checkpoint.

    A session killed between checkpoints leaves rows past the last save; the next
    session resumes from that save and logs those steps again. Its rows replace them.
    """
    rows: list[dict] = []
    for line in (Path(run_dir) / "log.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "event" in row:
            continue
        while rows and rows[-1]["step"] >= row["step"]:
            rows.pop()
        rows.append(row)
    return rows


def plot_log(run_dir: Path, out: Path, smooth: int = 20) -> Path:
    """Losses and each attention layer's gamma over the steps of a run, from log.jsonl."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    rows = read_log(run_dir)
    if not rows:
        raise CheckpointError(f"{run_dir}/log.jsonl has no steps to plot")
    steps = np.array([r["step"] for r in rows])

    def smoothed(key):
        v = np.array([r[key] for r in rows], dtype=float)
        k = max(1, min(smooth, len(v)))
        return np.convolve(v, np.ones(k) / k, mode="valid"), steps[k - 1:]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    for key, label in (("loss_d", "D hinge loss"), ("loss_g", "G loss")):
        v, s = smoothed(key)
        ax1.plot(s, v, label=label)
    ax1.set_xlabel("step")
    ax1.legend()
    ax1.set_title(f"losses (moving average of {smooth} logs)")
    for key in sorted(k for k in rows[-1] if k.startswith("gamma_")):
        ax2.plot(steps, [r[key] for r in rows], label=key[6:])
    ax2.axhline(0, color="grey", lw=0.5)
    ax2.set_xlabel("step")
    ax2.set_title("attention gamma")
    ax2.legend()
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
