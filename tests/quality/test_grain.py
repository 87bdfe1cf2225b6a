"""The grain of a canvas model (quality/spectrum.py, issue #36 part 1): the power spectrum of generated
crops against real ones, per band of periods and orientation."""
from pathlib import Path

import numpy as np
import pytest

from attn_demo.quality import spectrum

ROOT = Path(__file__).resolve().parents[2]


def noise_crops(n: int, seed: int, size: int = 64) -> np.ndarray:
    """Smooth random textures, (n, 3, size, size) uint8."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, size, size))
    x = sum(np.roll(x, (dy, dx), (1, 2)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 3
    grey = np.clip(128 + 30 * x, 0, 255)
    return np.repeat(grey[:, None], 3, axis=1).astype(np.uint8)


def test_the_same_kind_of_texture_stays_under_the_bar():
    a, b = noise_crops(256, 0), noise_crops(256, 1)
    assert spectrum.compare(a, a)["max_ratio"] == pytest.approx(1.0)
    assert spectrum.compare(a, b)["max_ratio"] < 1.3


def test_a_fixed_streak_is_found_in_its_band_and_orientation():
    real = noise_crops(256, 0)
    y, x = np.mgrid[:64, :64]
    streak = 12 * np.sin(2 * np.pi * (x + y) / (6 * np.sqrt(2)))      # period 6 px, frequency at 45 deg
    fake = np.clip(noise_crops(256, 1).astype(float) + streak, 0, 255).astype(np.uint8)
    out = spectrum.compare(fake, real)
    assert out["max_ratio"] > 2
    assert out["worst"]["period_px"] == [4, 8] and out["worst"]["frequency_angle_deg"] == [45.0, 60.0]
    # the other orientations of that band are untouched
    ratio = np.array(out["ratio"])
    assert np.median(ratio[1]) < 1.3


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "data/textures").is_dir() or not (ROOT / "weights/textures64").is_dir(),
                    reason="needs data/textures (python -m attn_demo data build-textures --out data/textures)")
@pytest.mark.xfail(strict=True, reason="textures64 carries a fixed diagonal grain (issue #36): measured "
                   "2026-12-07, 256 crops of 128 px per class: every class fails, worst paving 6.41x the real "
                   "crops' energy at periods 16-32 px, frequency 45-60 deg (dirt 3.91, snow 4.42, rock 3.56, "
                   "sand 3.32, forest floor 2.57, grass 2.01); a retrained model must pass")
def test_generated_crops_have_no_band_or_orientation_above_1_5x_the_real_ones():
    from attn_demo.quality.canvas import load_textures
    from attn_demo.serving.canvas import CanvasEngine
    engine = CanvasEngine.from_pretrained(ROOT / "weights/textures64", device="cpu")
    data = load_textures(ROOT / "weights/textures64", engine, ROOT / "data/textures")
    report = spectrum.grain_report(engine, data, per_class=256, crop=128)
    assert report["max_ratio"] <= spectrum.MAX_RATIO, {k: (v["max_ratio"], v["worst"]) for k, v in report["classes"].items()}
