"""Write attn_demo/imaging/palettes.npz: the 256-colour RGB palettes of draw.COLORMAPS.

    python scripts/palettes.py

The app colours its maps through these tables instead of importing matplotlib
at start-up; tests/imaging/test_draw.py checks them against matplotlib's colormaps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from attn_demo.imaging.draw import COLORMAPS, PALETTES_FILE


def matplotlib_palette(name: str) -> np.ndarray:
    """(256, 3) uint8: the colormap sampled at 256 evenly spaced points of [0, 1]."""
    import matplotlib
    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    return (rgba[:, :3] * 255).round().astype(np.uint8)


def main() -> None:
    np.savez(PALETTES_FILE, **{name: matplotlib_palette(name) for name in COLORMAPS})
    print(f"wrote {PALETTES_FILE.relative_to(ROOT)} ({', '.join(COLORMAPS)})")


if __name__ == "__main__":
    main()
