"""Warm start: a new run's generator begins from a trained smaller one (issue #21's second lever).

    python -m attn_demo train --data data/emoji --out runs/emoji64-warm --resolution 64 --g-width 32 \\
        --attn 16,32 --init-from weights/emoji32

A 64-px generator of width w/2 has the same stages as a 32-px one of width w up to 32x32 (the
stem, the first up-blocks and their attention: `ModelConfig.g_channels`), and one more up-block
and output layer after them. Every tensor of the new generator whose name and shape match the
trained one's is copied (the G grows at its output end, so stage i stays stage i); the rest
(the 64-px block, a new attention layer, the output) keeps its fresh initialisation, with
attention gamma at 0. A trained attention layer is copied into one with options it lacked
(`--attn-registers`, `--attn-null`, `--attn-whiten`, `--attn-context`): the options' own parts
start fresh, so a run can add them to emoji32's layer and measure what they change. The EMA copy starts as the warm generator; the discriminator starts
fresh (model directories ship only the generator).

With `--fade-in N` the new output layer fades in as in progressive growing: the small model's
own output head (its out_bn and out_conv, copied) paints from the features before the new
block, upsampled 2x, and the image D sees is (1 - alpha) * that + alpha * the new output, alpha
going from 0 to 1 over the first N steps (`fade_alpha`). At step 0 the run paints exactly the
small model's images upsampled (tested). The fade head trains with G, lives in the training
checkpoint, and is left out of an export (after step N it no longer touches the output).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .runtime import TrainingError
from ..models.checkpoint import WEIGHTS_FILE, file_sha256, load_pretrained


def stage_of(name: str) -> str:
    """The generator part a tensor belongs to: "stem", "blocks.2", "attn.16", "out_bn", ..."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in ("blocks", "attn") else parts[0]


# The parts an attention option adds to a layer (models/attention.py: registers, the global-context
# path): a trained layer without them is still copied, and they start as a fresh layer's would
# (gamma_ctx at 0, so the copied layer computes what it did; registers and the null slot take
# the share of each row their logits give them).
OPTION_PARTS = ("reg_k", "reg_v", "ctx_logit", "ctx_out", "gamma_ctx")


def is_option_part(name: str) -> bool:
    return name.startswith("attn.") and any(part in OPTION_PARTS for part in name.split("."))


def matching(target: torch.nn.Module, source: dict[str, torch.Tensor]) -> list[str]:
    """The tensors of every stage of `target` (stage_of) whose tensors `source` all has, with the same
    names and shapes: what a warm start copies (a stage whole or not at all; an attention layer's
    option parts (OPTION_PARTS) may be missing from the source and stay fresh)."""
    own = target.state_dict()
    stages: dict[str, list[str]] = {}
    for name in own:
        stages.setdefault(stage_of(name), []).append(name)
    copied = []
    for names in stages.values():
        shared = [n for n in names if n in source or not is_option_part(n)]
        if shared and all(n in source and source[n].shape == own[n].shape for n in shared):
            copied += shared
    return copied


def transfer(target: torch.nn.Module, source: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copy the `matching` stages of source into target. Returns (copied tensor names, the other names)."""
    own = target.state_dict()
    copied = matching(target, source)
    with torch.no_grad():
        for name in copied:
            own[name].copy_(source[name])
    return copied, [name for name in own if name not in copied]


def attach_fade(G: torch.nn.Module) -> None:
    """Give an image generator its fade-in head (models/networks.FadeIn), on the features before
    its last up-block; called before the optimizer is made, so the head trains with G."""
    from ..models.networks import FadeIn, Generator
    if not isinstance(G, Generator) or len(G.blocks) < 2:
        raise TrainingError("a fade-in needs an image generator with at least two up-blocks")
    G.fade = FadeIn(G.cfg.g_channels()[-2]).to(next(G.parameters()).device)


def fade_alpha(step: int, fade_in: int) -> float:
    """The new output's share at `step` of a fade-in over `fade_in` steps: 0 at step 0, then linear to 1."""
    return 1.0 if fade_in <= 0 else min(1.0, step / fade_in)


def set_fade(st, step: int, fade_in: int) -> None:
    for G in (st.G, st.G_ema):
        if getattr(G, "fade", None) is not None:
            G.fade.alpha.fill_(fade_alpha(step, fade_in))


def output_head(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A generator's output head (out_bn.*, out_conv.*) named as the fade head names it (bn.*, conv.*)."""
    return {n[len("out_"):]: t for n, t in state.items() if n.startswith("out_")}


def copied_parameters(G: torch.nn.Module, model_dir: Path) -> list[torch.nn.Parameter]:
    """The parameters of G that a warm start from `model_dir` copies (its fade-in head's included): what
    --freeze-copied holds fixed. Found again from the small model's names and shapes, so a resumed run
    holds the same ones."""
    source = load_pretrained(Path(model_dir)).state_dict()
    names = set(matching(G, source))
    fade = getattr(G, "fade", None)
    if fade is not None:
        names |= {f"fade.{n}" for n in matching(fade, output_head(source))}
    return [p for n, p in G.named_parameters() if n in names]


def warm_start(st, model_dir: Path, log=print) -> dict:
    """Start st.G (and its EMA copy) from the generator in `model_dir`; returns what was taken."""
    model_dir = Path(model_dir)
    small = load_pretrained(model_dir)                 # validated safetensors, never a pickle
    if small.cfg.z_dim != st.G.cfg.z_dim or small.cfg.num_classes != st.G.cfg.num_classes:
        raise TrainingError(f"--init-from {model_dir}: z_dim {small.cfg.z_dim} and {small.cfg.num_classes} "
                            f"classes, this run has {st.G.cfg.z_dim} and {st.G.cfg.num_classes}")
    copied, fresh = transfer(st.G, small.state_dict())
    if not any(name.startswith("blocks.") for name in copied):
        raise TrainingError(f"--init-from {model_dir}: no stage of its generator fits this one (its channels "
                            f"{small.cfg.g_channels()}, these {st.G.cfg.g_channels()}): choose --g-width so "
                            "the first stages match")
    fade = getattr(st.G, "fade", None)
    if fade is not None:                      # the small model's output head paints the fade
        faded, _ = transfer(fade, output_head(small.state_dict()))
        if not faded:
            raise TrainingError(f"--fade-in: {model_dir}'s output head ({small.cfg.g_channels()[-1]} channels) "
                                f"does not fit the features before the new block ({st.G.cfg.g_channels()[-2]})")
        copied += [f"fade.{n}" for n in faded]
    st.G_ema.load_state_dict(st.G.state_dict())
    taken = sum(st.G.state_dict()[n].numel() for n in copied)
    total = sum(t.numel() for t in st.G.state_dict().values())
    log(f"warm start from {model_dir}: {', '.join(sorted({stage_of(n) for n in copied}))} copied "
        f"({taken:,} of {total:,} values); new: {', '.join(sorted({stage_of(n) for n in fresh}))}")
    return {"from": str(model_dir), "weights_sha256": file_sha256(model_dir / WEIGHTS_FILE),
            "tensors_copied": len(copied), "values_copied": taken, "values": total}
