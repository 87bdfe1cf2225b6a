import math

import pytest
import torch

from attn_demo.errors import InputError
from attn_demo.serving.probe import AttentionRecorder, pixel_to_cell

from conftest import load_script, tiny_generator
from naive import naive_attention_matrix


def _record(module, x, image_size):
    with AttentionRecorder(module, image_size=image_size) as rec, torch.no_grad():
        module(x)
    return rec.captures["attn"]


def _attention_module(pool, heads, seed=0, kind="dot"):
    from attn_demo.models.attention import SelfAttention2d
    torch.manual_seed(seed)
    m = SelfAttention2d(32, heads=heads, pool=pool, kind=kind).eval()
    with torch.no_grad():
        m.query.parametrizations.weight.original.mul_(6)
        m.key.parametrizations.weight.original.mul_(6)
        if m.w is not None:
            m.w.normal_(0, 2)                        # a focused additive map, not the near-uniform start
    return m


CASES = [(pool, heads) for pool in (True, False) for heads in (1, 2)]
KINDS = ["dot", "scaled-dot", "additive"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pool,heads", CASES)
def test_maps_equal_naive_reference(pool, heads, kind):
    """Every kind's rows and columns are exactly the full matrix's (tests/naive.py builds it whole)."""
    m = _attention_module(pool, heads, kind=kind)
    x = torch.randn(2, 32, 8, 8)
    cap = _record(m, x, image_size=32)
    with torch.no_grad():
        full = naive_attention_matrix(m, x)          # (B, heads, Nq, Nk)
    hk, wk = cap.key_grid
    gen = torch.Generator().manual_seed(1)
    for _ in range(12):
        px, py = (int(v) for v in torch.randint(0, 32, (2,), generator=gen))
        b = int(torch.randint(0, 2, (1,), generator=gen))
        qi = (py * 8 // 32) * 8 + (px * 8 // 32)
        kj = (py * hk // 32) * wk + (px * wk // 32)
        for head in [None, *range(heads)]:
            sel = (lambda t: t.mean(0)) if head is None else (lambda t, h=head: t[h])
            row = cap.looks_at(px, py, head=head, b=b)
            assert row.shape == (hk, wk)
            assert torch.allclose(row.reshape(-1), sel(full[b, :, qi]), atol=1e-6)
            assert math.isclose(float(row.sum()), 1.0, abs_tol=1e-5)
            col = cap.looked_at_by(px, py, head=head, b=b)
            assert col.shape == (8, 8)
            assert torch.allclose(col.reshape(-1), sel(full[b, :, :, kj]), atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pool,heads", CASES)
def test_summary_equals_naive(pool, heads, kind):
    m = _attention_module(pool, heads, seed=3, kind=kind)
    x = torch.randn(1, 32, 8, 8)
    cap = _record(m, x, image_size=32)
    with torch.no_grad():
        full = naive_attention_matrix(m, x)[0]       # (heads, Nq, Nk)
    qpos, kpos = cap.cell_centres(cap.grid), cap.cell_centres(cap.key_grid)
    dist = torch.cdist(qpos.double(), kpos.double())
    for head in [None, *range(heads)]:
        p = (full.mean(0) if head is None else full[head]).double()
        mean_dist, ent = cap.summary(head=head)
        assert torch.allclose(mean_dist.reshape(-1).double(), (p * dist).sum(-1), atol=1e-4)
        ref_ent = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
        assert torch.allclose(ent.reshape(-1).double(), ref_ent, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_summary_chunking_matches_one_chunk(monkeypatch, kind):
    import attn_demo.models.attention as attention
    import attn_demo.serving.probe as probe
    m = _attention_module(True, 2, kind=kind)
    x = torch.randn(1, 32, 8, 8)
    whole = _record(m, x, 32)
    monkeypatch.setattr(probe, "_CHUNK_ELEMENTS", 40)  # many tiny chunks
    monkeypatch.setattr(attention, "CHUNK_ELEMENTS", 40)
    chunked = _record(m, x, 32)
    assert torch.allclose(whole.lse, chunked.lse, atol=1e-6)
    for a, b in zip(whole.summary(), chunked.summary()):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("size", [32, 64, 256, 512])
@pytest.mark.parametrize("grid", [8, 16, 32])
def test_pixel_to_cell_corners_and_centre(size, grid):
    last = size - 1
    assert pixel_to_cell(0, 0, (size, size), (grid, grid)) == (0, 0)
    assert pixel_to_cell(last, 0, (size, size), (grid, grid)) == (grid - 1, 0)
    assert pixel_to_cell(0, last, (size, size), (grid, grid)) == (0, grid - 1)
    assert pixel_to_cell(last, last, (size, size), (grid, grid)) == (grid - 1, grid - 1)
    assert pixel_to_cell(size // 2, size // 2, (size, size), (grid, grid)) == (grid // 2, grid // 2)
    # Every pixel: the cell whose span [c*size/grid, (c+1)*size/grid) contains it.
    for x in range(size):
        cx, _ = pixel_to_cell(x, 0, (size, size), (grid, grid))
        assert cx * size / grid <= x < (cx + 1) * size / grid


def test_pixel_to_cell_non_square_display():
    # A 300 x 200 picture over a 16 x 8 (rows x cols) grid.
    assert pixel_to_cell(299, 199, (300, 200), (16, 8)) == (7, 15)
    assert pixel_to_cell(37, 12, (300, 200), (16, 8)) == (0, 0)
    assert pixel_to_cell(38, 13, (300, 200), (16, 8)) == (1, 1)


@pytest.mark.parametrize("x,y", [(-1, 0), (0, 32), (32, 0), (float("nan"), 1), (1.5, 2),
                                 ("3", 4), (None, 1), (True, 2), (float("inf"), 0), (10**30, 0)])
def test_forged_clicks_rejected(x, y):
    with pytest.raises(InputError):
        pixel_to_cell(x, y, (32, 32), (16, 16))


def test_integral_float_click_accepted():
    assert pixel_to_cell(31.0, 0.0, (32, 32), (16, 16)) == (15, 0)


def test_recorder_removes_hooks_and_records_every_layer():
    g = tiny_generator(g_attn=(8, 16))
    z = torch.randn(1, g.cfg.z_dim)
    with AttentionRecorder(g) as rec, torch.no_grad():
        g(z)
    assert set(rec.captures) == {"G8", "G16"}
    assert all(not m._forward_hooks for m in g.attention_layers().values())
    cap = rec.captures["G16"]
    assert cap.grid == (16, 16) and cap.key_grid == (8, 8) and cap.image_size == 32


def test_bad_head_rejected():
    m = _attention_module(True, 2)
    cap = _record(m, torch.randn(1, 32, 8, 8), 32)
    for head in (2, -1, 0.5, "0", True):
        with pytest.raises(InputError):
            cap.looks_at(0, 0, head=head)


def test_probe_memory_is_linear_in_n():
    """Capture bytes grow like N (q and k), at most 1% of the N x Nk map at 64x64."""
    from attn_demo.models.attention import SelfAttention2d
    m = SelfAttention2d(64).eval()
    sizes = {}
    for side in (16, 32, 64):
        cap = _record(m, torch.randn(1, 64, side, side), image_size=side)
        sizes[side] = cap.nbytes
        n, nk = side * side, (side // 2) ** 2
        if side == 64:
            assert cap.nbytes <= 0.01 * n * nk * 4
    assert sizes[32] == 4 * sizes[16] and sizes[64] == 4 * sizes[32]


def _spread_script():
    return load_script("attention_spread")


def test_attention_spread_figures_on_known_maps():
    """scripts/attention_spread.py: maps equal for every query read TV 0 and full entropy; two
    queries that each look at a key of their own (the others near 0) read TV ~1/2 from the mean."""
    from attn_demo.serving.probe import Capture
    spread = _spread_script().spread
    uniform = Capture.from_qk("u", torch.zeros(1, 1, 4, 2), torch.randn(1, 1, 4, 2), (2, 2), (2, 2), 1.0, 0.5, 2)
    figures = spread(uniform)
    assert figures["tv_from_mean"] == pytest.approx(0.0, abs=1e-6)
    assert figures["entropy_of_uniform"] == pytest.approx(1.0, abs=1e-6)
    # query i looks (almost) only at key i: maps are one-hot, the mean is uniform, TV = 1 - 1/4
    eye = torch.eye(4)[None, None] * 40.0
    peaked = Capture.from_qk("p", eye, torch.eye(4)[None, None], (2, 2), (2, 2), 1.0, 0.5, 2)
    figures = spread(peaked)
    assert figures["tv_from_mean"] == pytest.approx(0.75, abs=1e-4)
    assert figures["entropy_of_uniform"] < 1e-3


def test_attention_spread_cli_on_a_conditional_model(cond_model_dir, tmp_path, capsys):
    import json
    out = tmp_path / "spread.json"
    assert _spread_script().main(["--weights", str(cond_model_dir), "--seeds", "0-1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images_per_layer"] == 2 * 3             # two seeds, three classes
    for figures in report["layers"].values():
        assert 0.0 < figures["tv_from_mean"] < 1.0
        assert 0.0 < figures["entropy_of_uniform"] < 1.0
        assert figures["mean_distance_px"] > 0
    assert "median over 6 images" in capsys.readouterr().out


@pytest.fixture(scope="module")
def two_layer_dir(tmp_path_factory):
    from conftest import make_model_dir
    return make_model_dir(tmp_path_factory.mktemp("two") / "tinycond", num_classes=3,
                          class_names=("cat", "dog", "fish"), heads=2, g_attn=(8, 16))


def test_rollout_equals_the_product_of_the_mixed_matrices(two_layer_dir):
    """probe.rollout against the explicit matrices: per layer (I + |gamma| A S) / (1 + |gamma|), with A
    the full attention matrix and S spreading each key cell over the pixels it pools, and a sum of
    blocks between layers; a row vector from the clicked pixel of the last layer."""
    from attn_demo.serving.engine import Engine, RenderArgs
    from attn_demo.serving.probe import rollout
    engine = Engine.from_pretrained(two_layer_dir, device="cpu")
    result = engine.render(RenderArgs(3, 1.0, "dog"))
    caps = [result.captures[n] for n in engine.layers]
    assert len(caps) == 2
    for head in (None, 0, 1):
        r = None
        for i in range(len(caps) - 1, -1, -1):
            cap = caps[i]
            (h, w), (hk, wk) = cap.grid, cap.key_grid
            if r is None:
                r = torch.zeros(h * w, dtype=torch.float64)
                r[(9 * h // 32) * w + (20 * w // 32)] = 1.0       # pixel (20, 9) of the 32 px image
            full = torch.softmax((cap.q[0] @ cap.k[0].transpose(-1, -2)).double() * cap.scale, dim=-1)
            a = full.mean(0) if head is None else full[head]      # (N, Nk)
            spread = torch.zeros(hk * wk, h * w, dtype=torch.float64)
            for j in range(hk * wk):
                ky, kx = divmod(j, wk)
                for dy in range(h // hk):
                    for dx in range(w // wk):
                        spread[j, (ky * (h // hk) + dy) * w + kx * (w // wk) + dx] = 1.0 / ((h // hk) * (w // wk))
            g = abs(cap.gamma)
            r = (r + g * (r @ a @ spread)) / (1 + g)
            if i > 0:
                hc, wc = caps[i - 1].grid
                r = r.reshape(hc, h // hc, wc, w // wc).sum(dim=(1, 3)).reshape(-1)
        got = rollout(caps, 20, 9, head=head)
        assert got.shape == caps[0].grid
        assert torch.allclose(got.double().reshape(-1), r, atol=1e-5)
        assert abs(float(got.sum()) - 1.0) < 1e-4


def test_all_maps_draws_every_layer_and_head_and_the_rollout(two_layer_dir, model_dir):
    from attn_demo.serving.engine import Engine, MapSettings, RenderArgs
    engine = Engine.from_pretrained(two_layer_dir, device="cpu")
    result = engine.render(RenderArgs(3, 1.0, "dog"))
    out = engine.all_maps(result, 100, 200, MapSettings(mode="looked-at-by"), size=(512, 512), tile=64)
    assert [(m.layer, m.head) for m in out.maps] == [(n, h) for n in engine.layers for h in (None, 0, 1)]
    assert all(m.mode == "looked-at-by" for m in out.maps)
    ref = result.captures["G16"].probe(100, 200, (512, 512), 1, "looked-at-by")
    assert torch.equal(out.maps[-1].heat, ref.heat)
    assert out.rollout is not None and out.rollout.shape == result.captures[engine.layers[0]].grid
    assert out.picture.ndim == 3 and out.picture.shape[0] > 3 * 64      # two layer rows and the rollout
    single = Engine.from_pretrained(model_dir, device="cpu")               # one layer: no rollout row
    assert single.all_maps(single.render(RenderArgs(1)), 5, 5).rollout is None


def test_attention_kinds_script_draws_every_head_of_each_click(two_layer_dir, cond_model_dir, tmp_path, capsys):
    """scripts/attention_kinds.py: per model three clicks, a row each (image, mean, every head)."""
    from PIL import Image
    module = load_script("attention_kinds")
    out = tmp_path / "kinds.png"
    import sys
    argv = sys.argv
    sys.argv = ["attention_kinds.py", "--model", f"{two_layer_dir}:1:3:10,13:3,18:30,2",
                "--model", f"{cond_model_dir}:0:3:5,5:1,1:30,30", "--out", str(out), "--tile", "32"]
    try:
        module.main()
    finally:
        sys.argv = argv
    with Image.open(out) as im:
        w, h = im.size
    assert h > 6 * 32 and w > 4 * 32                     # 6 rows; image, mean and two heads
    printed = capsys.readouterr().out
    assert printed.count(" eye (10,13)") == 1 and "2 heads" in printed and "wrote" in printed


SLOT_OPTIONS = [dict(registers=3), dict(null=True), dict(whiten=True), dict(context=True),
                dict(registers=2, null=True, whiten=True, context=True)]


def _slot_module(kind, heads, options):
    from attn_demo.models.attention import SelfAttention2d
    torch.manual_seed(3)
    m = SelfAttention2d(32, heads=heads, kind=kind, **options).eval()
    with torch.no_grad():
        m.query.parametrizations.weight.original.mul_(6)
        m.key.parametrizations.weight.original.mul_(6)
        if m.registers:
            m.reg_k.mul_(20)                         # slots that take a visible share of each row
    return m


@pytest.mark.parametrize("options", SLOT_OPTIONS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("kind", KINDS)
def test_slots_maps_and_shares_equal_naive(kind, options):
    """Registers, the null slot, whitening and the context path: rows, columns, the slots' shares,
    the summary and the unary map are exactly those of the whole matrix written out by hand."""
    from naive import naive_rows_with_slots
    m = _slot_module(kind, 2, options)
    x = torch.randn(2, 32, 8, 8)
    cap = _record(m, x, image_size=32)
    with torch.no_grad():
        full = naive_rows_with_slots(m, x)           # (B, heads, Nq, Nk + extra)
    nk = 16
    regs = options.get("registers", 0)
    gen = torch.Generator().manual_seed(2)
    for _ in range(8):
        px, py = (int(v) for v in torch.randint(0, 32, (2,), generator=gen))
        b = int(torch.randint(0, 2, (1,), generator=gen))
        qi, kj = (py // 4) * 8 + px // 4, (py // 8) * 4 + px // 8
        for head in [None, 0, 1]:
            sel = (lambda t: t.mean(0)) if head is None else (lambda t, h=head: t[h])
            want = sel(full[b, :, qi])
            assert torch.allclose(cap.looks_at(px, py, head=head, b=b).reshape(-1), want[:nk], atol=1e-6)
            assert torch.allclose(cap.looked_at_by(px, py, head=head, b=b).reshape(-1),
                                  sel(full[b, :, :, kj]), atol=1e-6)
            amap = cap.probe(px, py, head=head, b=b)
            if not (regs or m.null):
                assert amap.register_share is amap.null_share is amap.pixel_share is None
                continue
            assert math.isclose(amap.register_share, float(want[nk:nk + regs].sum()), abs_tol=1e-6)
            assert math.isclose(amap.null_share, float(want[-1]) if m.null else 0.0, abs_tol=1e-6)
            assert math.isclose(amap.pixel_share, float(want[:nk].sum()), abs_tol=1e-5)
    if regs or m.null:
        assert float(full[..., nk:].sum(-1).mean()) > 0.01       # the test's slots do take a share
        assert "This pixel puts" in cap.probe(3, 3).describe()
    distance, ent = cap.summary(head=None, b=1)
    p = full[1, :, :, :nk].mean(0)
    p = p / p.sum(-1, keepdim=True)
    want_ent = -(p * p.clamp_min(1e-30).log()).sum(-1)
    assert torch.allclose(ent.reshape(-1), want_ent, atol=1e-5)
    if m.context:
        u = torch.softmax(torch.nn.functional.max_pool2d(m.ctx_logit(x), 2).reshape(2, 2, -1), -1)
        assert torch.allclose(cap.unary_map(head=1, b=1).reshape(-1), u[1, 1], atol=1e-6)
        assert cap.probe(0, 0).gamma_ctx == m.gamma_ctx.item()
    else:
        assert cap.unary_map() is None


def test_whitened_queries_have_zero_mean_so_the_mean_query_sees_a_uniform_dot_map():
    m = _slot_module("dot", 1, dict(whiten=True))
    cap = _record(m, torch.randn(1, 32, 8, 8), image_size=32)
    assert torch.allclose(cap.q.mean(dim=2), torch.zeros(1, 1, 4), atol=1e-5)


def test_attention_spread_measures_a_canvas_model_and_the_card_shows_it(ui_weights, tmp_path):
    """A canvas model is measured on a seamless tile; --out attention.json beside the weights puts the
    figures in the card's "Attention maps" section, which leaves out a file measured on other weights."""
    import json
    import shutil

    from attn_demo.training.publish import write_card
    model = tmp_path / "tinytex"
    shutil.copytree(ui_weights / "tinytex", model)
    assert _spread_script().main(["--weights", str(model), "--seeds", "0-1", "--out", str(model / "attention.json")]) == 0
    report = json.loads((model / "attention.json").read_text())
    assert report["images_per_layer"] == 2 * 3 and report["layers"] and report["canvas_cells"] == 4
    card = write_card(model)
    assert "## Attention maps" in card and "total variation" in card and "seamless tiles of 4 × 4 cells" in card
    layer, f = next(iter(report["layers"].items()))
    assert f"| {layer} | {f['tv_from_mean']:.3f} |" in card
    report["weights_sha256"] = "0" * 64                     # measured on other weights: left out
    (model / "attention.json").write_text(json.dumps(report))
    assert "## Attention maps" not in write_card(model)
