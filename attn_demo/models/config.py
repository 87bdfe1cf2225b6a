"""Frozen configuration dataclasses with JSON in/out.

A checkpoint stores its `ModelConfig` as config.json, so a model rebuilds from
the file alone. Unknown keys and wrong types are refused with a message that
names them, rather than silently ignored.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

RESOLUTIONS = (32, 64, 128)
# How a query scores a key: SAGAN's q.k ("dot"), q.k / sqrt(d) as in Transformers ("scaled-dot"),
# or v^T tanh(q + k) on the same projections ("additive", Bahdanau-style).
ATTENTION_KINDS = ("dot", "scaled-dot", "additive")
# What the generator paints: one image from a latent vector ("sagan", networks.Generator), or a
# canvas of any size from a field of latents that tiles ("canvas", canvas.CanvasGenerator).
MODEL_KINDS = ("sagan", "canvas")
# Upper bounds: a config.json is data from anywhere, and it decides how much memory a
# model allocates. These are far above anything useful on one machine.
MAX_WIDTH = 1024
MAX_Z_DIM = 4096
MAX_HEADS = 64
MAX_REGISTERS = 64
MAX_NOISE = 4
# Skip-layer excitation's gates: FastGAN's sigmoid (0.5 at the start: it halves the gated features),
# or "open": 1 + mix * tanh(.) with mix learned from 0, the identity at the start (for warm starts).
SLE_GATES = ("sigmoid", "open")
MAX_CLASSES = 100_000
MAX_CLASS_NAME = 200


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the generator and the discriminator.

    resolution: output image size (32, 64 or 128; square).
    z_dim: size of the latent vector z.
    g_width / d_width: base channel width; stage channels are multiples of it
        (see `g_channels` / `d_channels`, the architecture table).
    g_attn / d_attn: feature-map sizes at which a self-attention block sits in
        G (after the up-block that outputs that size) and in D (after the
        down-block that outputs that size).
    heads: attention heads; the query/key (C/8) and value (C/2) channels are
        split between them.
    attn_pool: max-pool keys and values 2x2 as the SAGAN reference does.
    attn_kind: how a query scores a key (ATTENTION_KINDS): "dot" is SAGAN's
        q.k (no 1/sqrt(d) factor), the meaning of every config written before
        the field existed; "scaled-dot" divides by sqrt(head dim) as
        Transformer attention does; "additive" scores v^T tanh(q + k) with a
        learned v per head. (Configs with the older `attn_scaled` flag load as
        "scaled-dot" when it is true, "dot" otherwise.)
    num_classes: 0 = unconditional, else class-conditional BN in G and a
        projection head in D.
    class_names: optional display names, one per class.
    kind: "sagan" (every config written before the field existed) or "canvas"
        (MODEL_KINDS); for a canvas, resolution is the training crop size.
    z_local: a canvas generator's latent channels per cell (0 for "sagan";
        z_dim is then its global latent, broadcast to every cell).
    sle_gate: with g_sle, how a gate is formed (SLE_GATES): "sigmoid" as in
        FastGAN, or "open" (exactly 1 at the start, so a warm start's copied
        stages are not halved; networks.SkipExcitation).
    attn_registers: learned register slots per attention head (keys and values
        with no position, after the key cells in each softmax row; 0 = none).
    attn_null: one more slot with logit 0 and value 0 ("off-by-one" softmax):
        a query may attend to nothing.
    attn_whiten: queries minus their image mean (the disentangled block's
        whitened pairwise term).
    attn_context: a global-context path (GCNet; the disentangled block's unary
        term) beside each attention layer, with its own gamma_ctx.
    (models/attention.py; all off in every config written before they existed.)
    cell: a canvas's pixels per latent cell, a power of two from 4 up to the
        crop's quarter (0 = resolution / 4, the first canvases' 16 px at 64): a finer
        field carries finer structure (issue #36's grain: the 16-px grid's
        diagonal Nyquist period, 22.6 px, was painted as a streak).
    g_blur: a canvas generator blurs after each nearest upsampling ([1, 2, 1]
        squared / 16, padded as the canvas tiles): no fixed imprint of the grid.
    g_noise: a canvas generator's per-pixel noise channels (0 = none): a source
        of fine detail with no grid (StyleGAN's noise inputs), added in every
        up-block with learned per-channel strengths that start at 0. The noise
        is part of the latent field (g_noise * cell^2 values per cell after the
        z_local ones, pixel-shuffled to one value per pixel), so a seed, a
        shift by whole cells, a re-roll, a loop and a state carry it.
    g_global: a canvas generator's global latent reaches its stem (PSGAN's
        global part, broadcast to every cell; true in every config written before
        this option). Off, the field keeps its global part (the seed contract does
        not change) but the generator ignores it: the class alone sets what is
        common to a whole canvas, and agreement between distant cells must come
        through the field's attention (issue #36: with a global latent the attention
        had nothing long-range left to do).
    d_mbstd: D sees the batch's variety (ProGAN's minibatch standard deviation): after
        its last block, each group of up to 4 images gets one more channel, the standard
        deviation of its features over the group averaged to one value, and a 3x3 conv
        adds what D makes of it to the features (residual). A generator that paints one
        image per class shows D a small value there (false in every config written before
        it existed; models/networks.MinibatchStd).
    """

    resolution: int = 32
    z_dim: int = 128
    g_width: int = 64
    d_width: int = 64
    g_attn: tuple[int, ...] = (16,)
    d_attn: tuple[int, ...] = (16,)
    heads: int = 1
    attn_pool: bool = True
    attn_kind: str = "dot"
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    kind: str = "sagan"
    z_local: int = 0
    g_sle: bool = False
    sle_gate: str = "sigmoid"
    attn_registers: int = 0
    attn_null: bool = False
    attn_whiten: bool = False
    attn_context: bool = False
    cell: int = 0
    g_blur: bool = False
    g_noise: int = 0
    g_global: bool = True
    d_mbstd: bool = False

    def __post_init__(self) -> None:
        # Coerce JSON lists to tuples so configs compare and hash as values.
        for name in ("g_attn", "d_attn", "class_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self.validate()

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        self._validate_sizes()
        self._validate_attention()
        self._validate_generator_options()

    def _validate_sizes(self) -> None:
        """Resolution, widths, latent and class counts."""
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        for name, top in (("z_dim", MAX_Z_DIM), ("g_width", MAX_WIDTH), ("d_width", MAX_WIDTH),
                          ("heads", MAX_HEADS)):
            value = getattr(self, name)
            if not _whole(value) or not 1 <= value <= top:
                raise ConfigError(f"{name} must be an integer in 1..{top}, got {value!r}")
        if not _whole(self.num_classes) or not 0 <= self.num_classes <= MAX_CLASSES:
            raise ConfigError(f"num_classes must be an integer in 0..{MAX_CLASSES}, got {self.num_classes!r}")
        if not all(isinstance(n, str) and 0 < len(n) <= MAX_CLASS_NAME for n in self.class_names):
            raise ConfigError(f"class_names must be non-empty strings of at most {MAX_CLASS_NAME} characters")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ConfigError(
                f"class_names has {len(self.class_names)} names for {self.num_classes} classes")
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(MODEL_KINDS)}, got {self.kind!r}")
        if not _whole(self.z_local) or not 0 <= self.z_local <= MAX_Z_DIM:
            raise ConfigError(f"z_local must be an integer in 0..{MAX_Z_DIM}, got {self.z_local!r}")
        if (self.kind == "canvas") != (self.z_local > 0):
            raise ConfigError("a canvas model needs z_local >= 1 (latents per cell); a sagan model has none")
        if not _whole(self.cell) or (self.cell and (self.kind != "canvas" or self.cell & (self.cell - 1)
                                                    or not 4 <= self.cell <= self.resolution // 4)):
            raise ConfigError(f"cell is a canvas model's pixels per latent cell, a power of two in 4.."
                              f"{self.resolution // 4}, got {self.cell!r}")
        if self.g_width % 2:
            raise ConfigError("g_width must be even (the last G stage has g_width/2 channels)")

    def _validate_attention(self) -> None:
        """Where the attention layers sit, their heads and their options."""
        for name in ("g_attn", "d_attn"):
            if not all(_whole(r) for r in getattr(self, name)):
                raise ConfigError(f"{name} must be a list of integers, got {getattr(self, name)!r}")
        g_sizes = self.g_sizes()
        # a canvas may also attend over its field (after the 1x1 stem): with a fine cell, the grid
        # that attention at 1/8 of the canvas needs (models/canvas.py)
        allowed = g_sizes if self.kind == "canvas" else g_sizes[1:]
        for r in self.g_attn:
            if r not in allowed:
                raise ConfigError(f"g_attn {r} is not an output size of a G block {allowed}")
            self._check_heads(self.g_channels()[g_sizes.index(r)], "G", r)
        d_sizes = self.d_sizes()
        for r in self.d_attn:
            if r not in d_sizes:
                raise ConfigError(f"d_attn {r} is not an output size of a D block {d_sizes}")
            self._check_heads(self.d_channels()[d_sizes.index(r)], "D", r)
        if self.attn_kind not in ATTENTION_KINDS:
            raise ConfigError(f"attn_kind must be one of {', '.join(ATTENTION_KINDS)}, got {self.attn_kind!r}")
        if not _whole(self.attn_registers) or not 0 <= self.attn_registers <= MAX_REGISTERS:
            raise ConfigError(f"attn_registers must be an integer in 0..{MAX_REGISTERS}, got {self.attn_registers!r}")
        for name in ("attn_null", "attn_whiten", "attn_context"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.attn_pool and any(r < 2 for r in self.g_attn + self.d_attn):
            raise ConfigError("attention with pooled keys needs feature maps of at least 2x2")

    def _validate_generator_options(self) -> None:
        """SLE for image generators; blur, noise and the global latent for canvases; D's batch view."""
        if not isinstance(self.g_sle, bool):
            raise ConfigError(f"g_sle must be true or false, got {self.g_sle!r}")
        if self.sle_gate not in SLE_GATES:
            raise ConfigError(f"sle_gate must be one of {', '.join(SLE_GATES)}, got {self.sle_gate!r}")
        if self.g_sle and (self.kind != "sagan" or not self.sle_pairs()):
            raise ConfigError("skip-layer excitation (g_sle) is for image generators of 32 px and more")
        if not isinstance(self.g_blur, bool) or (self.g_blur and self.kind != "canvas"):
            raise ConfigError(f"g_blur (true or false) is a canvas model's option, got {self.g_blur!r}")
        if not _whole(self.g_noise) or not 0 <= self.g_noise <= MAX_NOISE or (self.g_noise and self.kind != "canvas"):
            raise ConfigError(f"g_noise is a canvas model's per-pixel noise channels, an integer in 0..{MAX_NOISE}, "
                              f"got {self.g_noise!r}")
        if not isinstance(self.g_global, bool) or (not self.g_global and self.kind != "canvas"):
            raise ConfigError(f"g_global (true or false) is a canvas model's option, got {self.g_global!r}")
        if not isinstance(self.d_mbstd, bool):
            raise ConfigError(f"d_mbstd must be true or false, got {self.d_mbstd!r}")

    def _check_heads(self, channels: int, net: str, r: int) -> None:
        if channels % 8 or (channels // 8) % self.heads or (channels // 2) % self.heads:
            raise ConfigError(
                f"{net} attention at {r}x{r} has {channels} channels: C/8 and C/2 must divide "
                f"into {self.heads} heads")

    # ----------------------------------------------------------- architecture
    def attention_options(self) -> dict[str, Any]:
        """Keyword arguments of every attention layer (models/attention.SelfAttention2d)."""
        return {"heads": self.heads, "pool": self.attn_pool, "kind": self.attn_kind,
                "registers": self.attn_registers, "null": self.attn_null, "whiten": self.attn_whiten,
                "context": self.attn_context}

    @property
    def num_up(self) -> int:
        """Halvings from the resolution to 4 px: D's down-blocks (and G's up-blocks but for a canvas
        with its own `cell`: `g_up`)."""
        return int(math.log2(self.resolution // 4))

    @property
    def g_up(self) -> int:
        """G's up-blocks: log2 of a canvas's cell, else `num_up`."""
        return int(math.log2(self.cell)) if self.cell else self.num_up

    @property
    def local_values(self) -> int:
        """A canvas field's values per cell before its global latent: z_local for the stem, then
        g_noise * cell^2 of per-pixel noise (z_local alone without noise)."""
        return self.z_local + self.g_noise * 4 ** self.g_up

    def g_sizes(self) -> list[int]:
        """Feature-map sizes in G: the input (4x4, or a canvas crop's field), then each up-block's output."""
        first = self.resolution >> self.g_up
        return [first * 2 ** i for i in range(self.g_up + 1)]

    def g_channels(self) -> list[int]:
        """Channels at each entry of `g_sizes`: width*2^(n-1) at 4x4, halving to width/2 (a map of a
        given size has the same channels whatever its field's cell).

        For 64x64 and width 64: 512@4, 256@8, 128@16, 64@32, 32@64.
        """
        full = [(self.g_width << self.num_up) >> (i + 1) for i in range(self.num_up + 1)]
        return full[len(full) - self.g_up - 1:]

    def d_sizes(self) -> list[int]:
        """Output size of each D down-block: R/2, R/4, ..., 4."""
        return [self.resolution >> (i + 1) for i in range(self.num_up)]

    def d_channels(self) -> list[int]:
        """Channels after each D block: width, 2*width, ... (64x64: 64@32 ... 512@4)."""
        return [self.d_width << i for i in range(self.num_up)]

    def sle_pairs(self) -> list[tuple[int, int]]:
        """Skip-layer excitation (FastGAN): the (low, high) G sizes where the features at `low` gate the
        channels at `high` = 4 * low, for every low of 8 px and more: 64 px -> (8, 32), (16, 64)."""
        sizes = self.g_sizes()
        return [(lo, 4 * lo) for lo in sizes if lo >= 8 and 4 * lo in sizes]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        if isinstance(data, dict) and "attn_scaled" in data:    # written before attn_kind existed
            data = dict(data)
            scaled = data.pop("attn_scaled")
            if not isinstance(scaled, bool):
                raise ConfigError(f"ModelConfig.attn_scaled must be bool, got {scaled!r}")
            if "attn_kind" in data and data["attn_kind"] != ("scaled-dot" if scaled else "dot"):
                raise ConfigError("attn_scaled and attn_kind disagree")
            data["attn_kind"] = "scaled-dot" if scaled else "dot"
        return _from_dict(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        except RecursionError:
            raise ConfigError("config is not valid JSON: nested too deeply") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the model architecture lives in `ModelConfig`.

    Defaults are SAGAN's: hinge loss, two time-scale Adam (G 1e-4, D 4e-4,
    betas (0, 0.9)), one D step per G step.
    """

    batch_size: int = 64
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    d_steps: int = 1
    ema_decay: float = 0.999
    ema_start: int = 1000
    diffaug: tuple[str, ...] = ("color", "translation", "cutout")
    hflip: bool = True
    seed: int = 0
    sample_every: int = 500
    ckpt_every: int = 1000
    keep_every: int = 0          # > 0: also keep a copy of the checkpoint every this many steps
    log_every: int = 50
    max_steps: int = 100_000
    time_budget: float = 0.0
    max_nan_rollbacks: int = 3
    amp: str = "auto"            # "auto" (bf16 on CUDA and on CPUs with bf16 in hardware), "bf16" or "off"
    channels_last: str = "auto"  # "auto" (on CUDA), "on" or "off"
    compile: str = "off"         # "on": torch.compile G and D for the training step (docs/TRAINING.md)
    data_hash: str = ""
    data_size: int = 0           # > 0: images loaded at this size, trained on random wrapped crops (canvas)
    init_from: str = ""          # a model directory whose generator the run starts from (training/grow.py)
    fade_in: int = 0             # > 0: with init_from, blend the small model's upsampled output out over these steps
    freeze_copied: int = 0       # > 0: with init_from, the stages copied into G stay fixed for these first steps
    r1: float = 0.0              # > 0: lazy R1 penalty weight on real images (training/levers.py)
    r1_every: int = 16           # the D steps between R1 penalties
    recon: float = 0.0           # > 0: weight of D's reconstruction loss (training/levers.py)
    pretrained_d: str = ""       # "efficientnet-lite0": a pretrained feature branch in D (training/projected.py)
    global_dropout: float = 0.0  # canvas models: the share of fakes whose global latent is zeroed (training/step.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diffaug", tuple(self.diffaug))
        for name in ("fade_in", "freeze_copied"):
            if not (_whole(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(f"{name} must be a whole number of steps >= 0, got {getattr(self, name)!r}")
        if not (isinstance(self.global_dropout, (int, float)) and not isinstance(self.global_dropout, bool)
                and 0 <= self.global_dropout <= 1):
            raise ConfigError(f"global_dropout must be a share in 0..1, got {self.global_dropout!r}")
        for name in ("r1", "recon"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.pretrained_d not in ("", "efficientnet-lite0"):
            raise ConfigError(f"pretrained_d must be '' or 'efficientnet-lite0', got {self.pretrained_d!r}")
        if not (_whole(self.r1_every) and self.r1_every >= 1):
            raise ConfigError(f"r1_every must be a whole number >= 1, got {self.r1_every!r}")
        if self.fade_in and not self.init_from:
            raise ConfigError("fade_in blends out a warm start's smaller model: give init_from too")
        if self.freeze_copied and not self.init_from:
            raise ConfigError("freeze_copied holds a warm start's copied stages: give init_from too")
        if not (_whole(self.data_size) and 0 <= self.data_size <= 4096):
            raise ConfigError(f"data_size must be a whole number in 0..4096 (0: the model's resolution), "
                              f"got {self.data_size!r}")
        if self.batch_size < 1 or self.d_steps < 1:
            raise ConfigError("batch_size and d_steps must be >= 1")
        for name in ("lr_g", "lr_d", "beta1", "beta2", "ema_decay"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"{name} must be a finite non-negative number, got {v!r}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("ema_decay must be in [0, 1)")
        unknown = set(self.diffaug) - {"color", "translation", "cutout"}
        if unknown:
            raise ConfigError(f"unknown DiffAugment policies: {sorted(unknown)}")
        if self.amp not in ("auto", "bf16", "off") or self.channels_last not in ("auto", "on", "off"):
            raise ConfigError("amp must be auto/bf16/off and channels_last auto/on/off")
        if self.compile not in ("on", "off"):
            raise ConfigError(f"compile must be on or off, got {self.compile!r}")
        for name in ("sample_every", "ckpt_every", "log_every"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"{name} must be a whole number >= 1, got {getattr(self, name)!r}")
        if not (isinstance(self.keep_every, int) and self.keep_every >= 0):
            raise ConfigError(f"keep_every must be a whole number >= 0 (0: keep none), got {self.keep_every!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


def _whole(value) -> bool:
    """An int that is not a bool (JSON's true must not pass for 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _from_dict(cls, data: Any):
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        default = names[key].default
        expected = type(default)
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{cls.__name__}.{key} must be a list, got {value!r}")
            value = tuple(value)
        elif expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(
                f"{cls.__name__}.{key} must be {expected.__name__}, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except RecursionError:
        raise ConfigError(f"cannot read {path}: JSON nested too deeply") from None

