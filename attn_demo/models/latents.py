"""Latent vectors: the seed -> z contract, truncation, classes and slider directions.

Seed contract (tested with pinned values; do not change it, or every shared
seed and saved state points at a different image):

    g = torch.Generator("cpu").manual_seed(seed)            # seed in 0 .. 2**32-1
    u = torch.rand(2, z_dim, generator=g, dtype=torch.float64)
    z = sqrt(-2 ln(1 - u[0])) * cos(2 pi u[1]), cast to float32

The uniforms come from the integer Mersenne-Twister stream and the
Box-Muller transform runs in float64, so z is the same on every device and
platform (torch.randn takes vectorised code paths that differ by CPU).
z is always drawn on the CPU and then moved to the model's device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from typing import Sequence

import torch

from ..checks import check_finite, check_seed
from ..errors import InputError

PSI_RANGE = (0.0, 1.0)
SLIDER_RANGE = (-5.0, 5.0)  # offsets along a direction, in standard deviations: the outer limit
# A direction's own range, where none was measured (training/directions.measure_ranges): the
# prior's +-2 standard deviations, beyond which a latent is rarely drawn.
DEFAULT_SLIDER_SPAN = 2.0


def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """The contract above: a float32 (z_dim,) vector on the CPU."""
    seed = check_seed(seed)
    g = torch.Generator(device="cpu").manual_seed(seed)
    u = torch.rand(2, z_dim, generator=g, dtype=torch.float64)
    z = torch.sqrt(-2.0 * torch.log1p(-u[0])) * torch.cos(2.0 * math.pi * u[1])
    return z.to(torch.float32)


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """Truncation: pull z toward the prior's mean (0) by psi in [0, 1].

    psi = 1 leaves z as drawn (most variety); smaller psi trades variety for
    typical, cleaner images (as StyleGAN's psi does in W).
    """
    psi = check_finite("truncation psi", psi, *PSI_RANGE)
    return z * psi


def resolve_class(value, num_classes: int, class_names: Sequence[str] = ()) -> int | None:
    """A class given as an index or a (case-insensitive) name -> index; None if unconditional."""
    if num_classes == 0:
        if value not in (None, "", "none"):
            raise InputError("this model is unconditional: it takes no class")
        return None
    choices = ", ".join(class_names) if class_names else f"0..{num_classes - 1}"
    if value in (None, ""):
        raise InputError(f"this model is class-conditional: give a class, one of {choices}")
    names = [n.lower() for n in class_names]
    if isinstance(value, str) and value.strip().lower() in names:
        return names.index(value.strip().lower())
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, Integral) and not isinstance(value, bool) and 0 <= value < num_classes:
        return int(value)
    raise InputError(f"unknown class {value!r}: this model takes one of {choices}")


@dataclass(frozen=True)
class Directions:
    """Slider directions in z space (GANSpace-style principal directions).

    vectors: (k, z_dim), unit length; stds: (k,), the spread of the samples
    along each direction, so a slider value of 1 moves z by one standard
    deviation of what that direction explains. spans: (k,) each slider's range
    +-span, where the model's images stay what they were (measured with
    training/directions.measure_ranges; DEFAULT_SLIDER_SPAN where not).
    """

    vectors: torch.Tensor
    stds: torch.Tensor
    labels: tuple[str, ...]
    spans: tuple[float, ...] = ()

    def __post_init__(self):
        if not self.spans:
            object.__setattr__(self, "spans", (DEFAULT_SLIDER_SPAN,) * len(self))
        if len(self.spans) != len(self) or not all(0 < s <= SLIDER_RANGE[1] for s in self.spans):
            raise InputError(f"slider spans must be {len(self)} values in (0, {SLIDER_RANGE[1]:g}]")

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def check(self, i: int, value) -> float:
        """Slider i's value, checked against its range."""
        span = self.spans[i]
        return check_finite(f"slider {i + 1} (range -{span:g} to {span:g}, where this model's images stay "
                            "recognisable)", value, -span, span)

    def offset(self, values: Sequence[float]) -> torch.Tensor:
        """sum_i values[i] * stds[i] * vectors[i]; missing values count as 0."""
        values = list(values)
        if len(values) > len(self):
            raise InputError(f"{len(values)} slider values for {len(self)} directions")
        out = torch.zeros(self.vectors.shape[1])
        for i, v in enumerate(values):
            v = self.check(i, v)
            out += v * float(self.stds[i]) * self.vectors[i]
        return out


MAX_LATENT_ABS = 20.0     # |z_i| of a latent given as numbers (an N(0, 1) draw stays far below)


def check_latent(values, z_dim: int) -> torch.Tensor:
    """A latent given as z_dim numbers (an inverted picture's, a state file's): finite and in range."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) != z_dim:
        raise InputError(f"a latent is {z_dim} numbers for this model, got "
                         f"{len(values) if hasattr(values, '__len__') else type(values).__name__}")
    out = [check_finite("latent value", v, -MAX_LATENT_ABS, MAX_LATENT_ABS) for v in values]
    return torch.tensor(out, dtype=torch.float32)


def make_latent(seed: int, z_dim: int, psi: float = 1.0, directions: Directions | None = None,
                sliders: Sequence[float] = (), base: torch.Tensor | None = None) -> torch.Tensor:
    """z = psi * z_from_seed(seed) (or psi * base, a latent of its own) + the slider offsets;
    (z_dim,) on the CPU."""
    z = truncate(z_from_seed(seed, z_dim) if base is None else base, psi)
    sliders = list(sliders)
    if directions is not None:
        return z + directions.offset(sliders)
    values = [check_finite(f"slider {i + 1}", v, *SLIDER_RANGE) for i, v in enumerate(sliders)]
    if any(values):
        raise InputError("this model has no slider directions")
    return z
