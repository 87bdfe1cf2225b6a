"""The training verbs: train, export, directions, convert (the data sets: data.py)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..errors import AttnDemoError
from .common import image_format, in_repo, write_image

EXAMPLES = {
    "train": "python -m attn_demo train --data data/emoji --out runs/emoji32 --resolution 32 --time-budget 7000\n"
             "  python -m attn_demo train --data data/emoji --out runs/emoji32 --resume\n"
             "  python -m attn_demo train --data data/emoji --out runs/emoji32 --resume --keep-every 2000\n"
             "  python -m attn_demo train --dry-run                  # checks that training runs; keeps nothing",
    "export": "python -m attn_demo export runs/emoji32 --out weights/emoji32 --grid assets/emoji32_samples.png\n"
              "  python -m attn_demo export runs/emoji32 --step 14000 --out /tmp/emoji32-14k",
    "directions": "python -m attn_demo directions --weights weights/emoji32",
    "convert": "python -m attn_demo convert old.pt --config config.json --out weights/mymodel",
}

# TrainConfig fields a resumed run may change without --force (they do not change the maths).
OPERATIONAL = {"max_steps", "time_budget", "ckpt_every", "keep_every", "sample_every", "log_every",
               "max_nan_rollbacks", "amp", "channels_last", "compile", "init_from"}


def _csv_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _in_repo_text(text: str) -> str:
    """in_repo for an argument kept as text ('shapes' is not a path)."""
    return str(in_repo(text))


def _csv(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() == "none" else tuple(v.strip() for v in text.split(",") if v.strip())


def register(command) -> None:
    """The training verbs: train, export, directions, convert (in the help's order)."""
    register_train(command)
    register_export(command)
    register_directions(command)
    register_convert(command)


def register_train(command) -> None:
    """`train`: the run's own options, then the model's and the training's groups."""
    p = command("train", "Train the SAGAN on an image folder (one sub-folder per class, optional).")
    p.add_argument("--data", type=_in_repo_text, help="image folder, or 'shapes' for the procedural set")
    p.add_argument("--out", type=Path, help="run directory (checkpoint, log.jsonl, samples/)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--force", action="store_true", help="resume although the config or data changed")
    p.add_argument("--dry-run", action="store_true",
                   help="a few steps on the procedural set, then stop (kept only with --out)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--unconditional", action="store_true", help="ignore class sub-folders")
    _model_args(p)
    _training_args(p)
    p.set_defaults(run=cmd_train)


def _model_args(p) -> None:
    """train's model options (a resumed run refuses a change)."""
    m = p.add_argument_group("model (ignored on --resume unless they differ: then refused)")
    m.add_argument("--resolution", type=int, help="32, 64 or 128 (default 32)")
    m.add_argument("--z-dim", type=int, help="latent size (default 128)")
    m.add_argument("--g-width", type=int, help="G base width (default 64)")
    m.add_argument("--d-width", type=int, help="D base width (default 64)")
    m.add_argument("--attn", type=_csv_ints, help="G attention sizes (default resolution/2, 32 at 64+)")
    m.add_argument("--d-attn", type=_csv_ints, help="D attention sizes (default as --attn)")
    m.add_argument("--heads", type=int, help="attention heads (default 1)")
    m.add_argument("--kind", choices=["sagan", "canvas"],
                   help="sagan (one image per z, default) or canvas (a tiling field generator: models/canvas.py)")
    m.add_argument("--z-local", type=int, help="a canvas model's latent channels per cell (e.g. 16)")
    m.add_argument("--cell", type=int, help="a canvas model's pixels per latent cell, a power of two from 4 "
                                            "(default a quarter of the crop: 16 at 64 px)")
    m.add_argument("--g-blur", choices=["on", "off"],
                   help="a canvas model blurs after each upsampling ([1,2,1]^2/16, padded as it tiles; "
                        "default off)")
    m.add_argument("--g-noise", type=int,
                   help="a canvas model's per-pixel noise channels, added in every up-block with learned strengths "
                        "(part of the latent field; default 0)")
    m.add_argument("--g-global", choices=["on", "off"],
                   help="a canvas model's global latent reaches the generator (default on); off: the class alone "
                        "sets what a whole canvas shares and distant cells agree through the field's attention")
    m.add_argument("--sle", dest="g_sle", choices=["on", "off", "open"],
                   help="skip-layer excitation in G (FastGAN: 8-px features gate the 32-px channels, 16 the 64; "
                        "default off); open: gates that start at exactly 1, for a warm start (--init-from)")
    m.add_argument("--attn-pool", choices=["on", "off"],
                   help="max-pool attention keys and values 2x2 (default on, SAGAN's); off: 4x the keys, 4x the cost")
    m.add_argument("--attn-kind", choices=["dot", "scaled-dot", "additive"],
                   help="how a query scores a key: SAGAN's q.k (default dot), q.k/sqrt(d), or w^T tanh(q + k)")
    m.add_argument("--attn-registers", type=int,
                   help="learned register slots per attention head: keys and values with no position that a "
                        "query may attend to instead of a pixel (default 0; models/attention.py)")
    m.add_argument("--attn-null", choices=["on", "off"],
                   help="a null slot (logit 0, value 0): a query may attend to nothing (default off)")
    m.add_argument("--attn-whiten", choices=["on", "off"],
                   help="subtract each image's mean query: the map keeps what differs between pixels "
                        "(the disentangled block's pairwise term; default off)")
    m.add_argument("--attn-context", choices=["on", "off"],
                   help="a global-context path beside attention (GCNet; the disentangled block's unary term), "
                        "with its own gamma_ctx (default off)")
    m.add_argument("--d-mbstd", choices=["on", "off"],
                   help="D sees the batch's variety: ProGAN's minibatch standard deviation after its last "
                        "block, against a G that paints one image per class (default off)")


def _training_args(p) -> None:
    """train's training options (every default is TrainConfig's)."""
    t = p.add_argument_group("training")
    t.add_argument("--batch-size", type=int, help="images per step and process (default 64)")
    t.add_argument("--init-from", type=_in_repo_text,
                   help="start G from this model directory's generator where the stages match "
                        "(a warm start, e.g. a 64-px run from weights/emoji32: training/grow.py)")
    t.add_argument("--r1", type=float, help="lazy R1 penalty weight on real images (default 0: off; training/levers.py)")
    t.add_argument("--r1-every", type=int, help="D steps between R1 penalties (default 16)")
    t.add_argument("--recon", type=float,
                   help="weight of D's reconstruction loss: decoders rebuild real images from D's 8- and 16-px "
                        "features (default 0: off; training/levers.py)")
    t.add_argument("--global-dropout", type=float,
                   help="canvas models: the share of each batch's fakes whose global latent is zeroed, so that "
                        "attention over the field learns to carry a canvas's look (default 0; docs/TEXTURES.md)")
    t.add_argument("--pretrained-d", choices=["efficientnet-lite0"],
                   help="a frozen ImageNet network's features judged beside D's own path (Projected GAN; "
                        "training/projected.py)")
    t.add_argument("--fade-in", type=int, help="with --init-from: fade the new output layer in over this many steps, "
                                               "from the small model's upsampled output (progressive growing)")
    t.add_argument("--freeze-copied", type=int,
                   help="with --init-from: keep the stages copied from the small model fixed for this many "
                        "steps while the new ones learn (default 0; training/grow.py)")
    t.add_argument("--data-size", type=int,
                   help="load the images at this size and train on random crops of --resolution that wrap "
                        "around their edges (tiling textures, a canvas model); default: --resolution")
    t.add_argument("--lr-g", type=float, help="G learning rate (default 1e-4)")
    t.add_argument("--lr-d", type=float, help="D learning rate (default 4e-4)")
    t.add_argument("--d-steps", type=int, help="D updates per G update (default 1)")
    t.add_argument("--steps", dest="max_steps", type=int, help="stop after this many steps (default 100000)")
    t.add_argument("--time-budget", type=float, help="stop cleanly and save after this many seconds")
    t.add_argument("--ckpt-every", type=int, help="checkpoint interval in steps (default 1000)")
    t.add_argument("--keep-every", type=int,
                   help="also keep a copy of the checkpoint every this many steps, in RUN/checkpoints/, "
                        "to export or resume from later (default 0: keep only the latest)")
    t.add_argument("--sample-every", type=int, help="sample grid interval in steps (default 500)")
    t.add_argument("--log-every", type=int, help="log interval in steps (default 50)")
    t.add_argument("--ema-decay", type=float, help="EMA decay of G (default 0.999)")
    t.add_argument("--ema-start", type=int, help="first step of the EMA (default 1000)")
    t.add_argument("--diffaug", type=_csv, help="DiffAugment policies or 'none' (default color,translation,cutout)")
    t.add_argument("--no-hflip", dest="hflip", action="store_false", default=None, help="no horizontal flips")
    t.add_argument("--seed", type=int, help="training seed (default 0)")
    t.add_argument("--amp", choices=["auto", "bf16", "off"],
                   help="bf16 mixed precision (auto = on with CUDA and on a CPU with bf16 in hardware; off = fp32)")
    t.add_argument("--channels-last", choices=["auto", "on", "off"], help="memory format (auto = on for CUDA)")
    t.add_argument("--compile", choices=["on", "off"],
                   help="torch.compile G and D for the step (default off; minutes of compiling first)")
    t.add_argument("--inject-nan-at", type=int, help=argparse.SUPPRESS)   # fault injection for tests


def register_export(command) -> None:
    """`export`: a run's EMA generator as a model directory."""
    p = command("export", "Write a run's EMA generator as a model directory with a model card.")
    p.add_argument("run_dir", type=in_repo)
    p.add_argument("--out", type=Path, required=True, help="model directory, e.g. weights/emoji32")
    p.add_argument("--step", type=int, default=None,
                   help="export the checkpoint kept at this step (train --keep-every) instead of the latest")
    p.add_argument("--data", type=in_repo, default=None, help="data folder (for its attribution)")
    p.add_argument("--grid", type=Path, default=None, help="also save a sample grid PNG here (seeds 0..63)")
    p.add_argument("--grid-psi", type=float, default=1.0, help="truncation of the sample grid")
    p.add_argument("--plot", type=Path, default=None, help="also plot the losses and gammas (PNG) here")
    p.set_defaults(run=cmd_export)


def register_directions(command) -> None:
    """`directions`: the sliders of a model."""
    p = command("directions", "Compute GANSpace slider directions for a model and save them beside it.")
    p.add_argument("--weights", type=in_repo, required=True, help="model directory")
    p.add_argument("--k", type=int, default=6, help="number of directions (sliders)")
    p.add_argument("--samples", type=int, default=4000, help="random samples for the PCA")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--feature-net", type=in_repo, default=None,
                   help="the metrics' feature net (weights/feature_net) to measure each slider's range: where "
                        "the samples stay on the real images' manifold; without it every range is ±2")
    p.add_argument("--data", type=in_repo, default=None, help="the real images' folder (with --feature-net)")
    p.add_argument("--ranges-only", action="store_true",
                   help="keep the model's directions as they are and measure only their ranges")
    p.set_defaults(run=cmd_directions)


def register_convert(command) -> None:
    """`convert`: a .pt/.pth state dict to safetensors."""
    p = command("convert", "Convert a .pt/.pth generator state dict (safe load only) to safetensors.")
    p.add_argument("checkpoint", type=in_repo, help="the .pt/.pth file (a state_dict of the Generator)")
    p.add_argument("--config", type=in_repo, required=True, help="config.json describing its architecture")
    p.add_argument("--out", type=Path, required=True, help="model directory to write")
    p.set_defaults(run=cmd_convert)


MODEL_FLAGS = {"resolution": "resolution", "z_dim": "z_dim", "g_width": "g_width", "d_width": "d_width",
               "attn": "g_attn", "d_attn": "d_attn", "heads": "heads", "attn_kind": "attn_kind", "kind": "kind",
               "z_local": "z_local", "attn_pool": "attn_pool", "g_sle": "g_sle",
               "attn_registers": "attn_registers", "attn_null": "attn_null", "attn_whiten": "attn_whiten",
               "attn_context": "attn_context", "cell": "cell", "g_blur": "g_blur",
               "g_noise": "g_noise", "g_global": "g_global", "d_mbstd": "d_mbstd"}
TRAIN_FLAGS = ("batch_size", "lr_g", "lr_d", "d_steps", "max_steps", "time_budget", "ckpt_every", "keep_every",
               "sample_every", "log_every", "ema_decay", "ema_start", "diffaug", "hflip", "seed", "amp",
               "channels_last", "compile", "data_size", "init_from", "fade_in", "freeze_copied", "r1", "r1_every",
               "recon", "pretrained_d", "global_dropout")


def _given(args, names) -> dict:
    return {dst: getattr(args, src) for src, dst in names.items() if getattr(args, src) is not None}


def cmd_train(args) -> None:
    from ..models.config import ModelConfig, TrainConfig
    from ..imaging.folders import load_data, make_shapes
    from ..training.trainer import train
    from ..training.state import CHECKPOINT, read_configs

    model_given = _given(args, MODEL_FLAGS)
    if model_given.get("g_sle") == "open":      # SLE whose gates start at 1 (models/networks.SkipExcitation)
        model_given.update(g_sle="on", sle_gate="open")
    for flag in ("attn_pool", "g_sle", "attn_null", "attn_whiten", "attn_context", "g_blur", "g_global",
                 "d_mbstd"):  # on/off -> bool
        if flag in model_given:
            model_given[flag] = model_given[flag] == "on"
    train_given = _given(args, {k: k for k in TRAIN_FLAGS})
    if args.dry_run and args.out is None:    # a check that training runs here: nothing of it is kept
        with tempfile.TemporaryDirectory(prefix="attn-demo-dry-") as scratch:
            args.out = Path(scratch) / "run"
            cmd_train(args)
        print("(a dry run without --out: its run directory is removed)")
        return
    if args.dry_run:
        out = args.out
        res = model_given.get("resolution", 32)
        data = make_shapes(64, res)
        train_given = {"batch_size": 8, "max_steps": 4, "ckpt_every": 2, "sample_every": 2,
                       "log_every": 1, "ema_start": 0, **train_given}
    else:
        if not args.data or not args.out:
            raise AttnDemoError("train needs --data and --out (or --dry-run)")
        out = args.out
        res, size = model_given.get("resolution"), train_given.get("data_size")
        if args.resume and (out / CHECKPOINT).exists():
            saved_model, saved_train, _ = read_configs(out / CHECKPOINT)
            res, size = saved_model.resolution, size or saved_train.data_size
        data = load_data(args.data, size or res or 32, args.unconditional)   # fails before anything is written
        print(data.report())
    if args.resume and (out / CHECKPOINT).exists():
        model_cfg, train_cfg = _reconcile(out / CHECKPOINT, model_given, train_given, data, args.force)
    else:
        res = model_given.get("resolution", 32)
        attn = (16,) if res == 32 else (32,)
        model_cfg = ModelConfig(**{"g_attn": attn, "d_attn": model_given.get("g_attn", attn), **model_given,
                                   "num_classes": data.num_classes, "class_names": data.class_names})
        train_cfg = TrainConfig(**{**train_given, "data_hash": data.sha256()})
    summary = train(model_cfg, train_cfg, data, out, device=args.device, resume=args.resume,
                    inject_nan_at=args.inject_nan_at)
    print(f"{summary['step']} steps, {summary['images_per_s']} images/s on {summary['hardware']}; "
          f"run directory {out}")


def _reconcile(ckpt: Path, model_given: dict, train_given: dict, data, force: bool):
    """Configs for a resumed run: the saved ones, plus allowed changes; refuse others unless forced."""
    from ..models.config import TrainConfig
    from ..training.state import read_configs
    model_cfg, train_cfg, _ = read_configs(ckpt)
    problems = [f"{k}: {getattr(model_cfg, k)!r} -> {v!r}" for k, v in model_given.items()
                if getattr(model_cfg, k) != (tuple(v) if isinstance(v, list) else v)]
    if problems:
        raise AttnDemoError("the model config of a run cannot change on resume: " + "; ".join(problems))
    merged = {**train_cfg.to_dict(), **train_given, "data_hash": data.sha256()}
    changed = [f"{k}: {train_cfg.to_dict()[k]!r} -> {v!r}" for k, v in merged.items()
               if k not in OPERATIONAL and TrainConfig.from_dict({**train_cfg.to_dict(), k: v}) != train_cfg]
    if data.num_classes != model_cfg.num_classes:
        changed.append(f"classes: {model_cfg.num_classes} -> {data.num_classes}")
    if changed and not force:
        raise AttnDemoError("refusing to resume with a different config or data (" + "; ".join(changed)
                            + "); pass --force to resume anyway")
    return model_cfg, TrainConfig.from_dict(merged)


def cmd_export(args) -> None:
    from ..imaging import draw
    from ..serving.engine import Engine
    from ..training.publish import export_run, plot_log
    from ..training.trainer import sample_grid
    if args.grid:
        image_format(args.grid, "--grid")
    out = export_run(args.run_dir, args.out, args.data, step=args.step)
    if args.grid:
        engine = Engine.from_pretrained(out, device="cpu")
        grid = draw.image_grid(sample_grid(engine.generator, 64, psi=args.grid_psi), nrow=8)
        write_image(draw.upscale_nearest(grid, 2), args.grid, "--grid")
    if args.plot:
        plot_log(args.run_dir, args.plot)
    print(f"exported {args.run_dir} to {out}" + (f"; samples in {args.grid}" if args.grid else "")
          + (f"; curves in {args.plot}" if args.plot else ""))


def _progress_bars():
    """A directions progress callback: one tqdm bar per phase (sampling, naming, ranges)."""
    from tqdm import tqdm
    bars = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in bars:
            for bar in bars.values():
                bar.close()
            bars[phase] = tqdm(total=total, desc=phase, unit="step", dynamic_ncols=True)
        bars[phase].n = done
        bars[phase].refresh()
        if done >= total:
            bars[phase].close()
    return progress


def cmd_directions(args) -> None:
    import sys
    from ..models.checkpoint import load_pretrained, save_directions
    from ..models.latents import SLIDER_RANGE
    from ..training.directions import compute_directions, slider_space, too_few_real
    from ..training.publish import TRAINING_FILE, write_card
    if not 1 <= args.k <= 32 or not 100 <= args.samples <= 200_000:
        raise AttnDemoError("--k must be in 1..32 and --samples in 100..200000")
    weights = Path(args.weights)
    # a canvas model's sliders move its global latent (training/directions.py)
    G, net, real = slider_space(load_pretrained(weights)), None, None
    if (args.feature_net is None) != (args.data is None):
        raise AttnDemoError("measuring the sliders' ranges takes both --feature-net and --data")
    if args.feature_net is not None:
        from ..quality.feature_net import load_feature_net
        from ..imaging.folders import load_folder
        net = load_feature_net(args.feature_net)
        real = load_folder(args.data, G.cfg.resolution, unconditional=not G.cfg.num_classes).images
        if too_few_real(len(real)):
            print(f"warning: {too_few_real(len(real))}", file=sys.stderr)
    if args.ranges_only:                     # the directions as they are; only their ranges measured
        from dataclasses import replace
        from ..models.checkpoint import load_directions
        from ..training.directions import measure_ranges
        d = load_directions(weights, G.cfg.z_dim)
        if d is None or net is None:
            raise AttnDemoError("--ranges-only takes a model with directions, --feature-net and --data")
        d = replace(d, spans=measure_ranges(G, d, net, real, seed=args.seed, progress=_progress_bars())[0])
    else:
        d = compute_directions(G, args.k, args.samples, args.seed, net=net, real_images=real,
                               progress=_progress_bars())
    save_directions(weights, d)
    if (weights / TRAINING_FILE).exists():
        write_card(weights)
    for label, s, span in zip(d.labels, d.stds.tolist(), d.spans):
        print(f"{label}  (std {s:.2f}; slider range ±{span:g}"
              + (", not measured: no --feature-net and --data)" if net is None else
                 ": the limit, no edge found within it)" if span >= SLIDER_RANGE[1] else ")"))
    print(f"saved {len(d)} directions to {args.weights}/directions.safetensors")


def cmd_convert(args) -> None:
    from ..models.convert import convert
    print(f"wrote {convert(args.checkpoint, args.config, args.out)}")
