import pytest
import torch

from attn_demo.models.attention import SelfAttention2d
from attn_demo.models.folding import FusedSelfAttention2d, plain_copy
from attn_demo.serving.probe import AttentionRecorder

from naive import naive_attention_forward, naive_attention_matrix


def _module(channels=32, heads=1, pool=True, scaled=False, gamma=0.5, seed=0, kind=None):
    torch.manual_seed(seed)
    kind = kind or ("scaled-dot" if scaled else "dot")
    m = SelfAttention2d(channels, heads=heads, pool=pool, kind=kind).eval()
    with torch.no_grad():
        m.gamma.fill_(gamma)
        if m.w is not None:
            m.w.normal_()
    return m


@pytest.mark.parametrize("pool", [True, False])
@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("scaled", [False, True])
def test_fused_forward_equals_naive(pool, heads, scaled):
    m = _module(heads=heads, pool=pool, scaled=scaled)
    x = torch.randn(2, 32, 8, 6) * 3
    with torch.no_grad():
        assert torch.allclose(m(x), naive_attention_forward(m, x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("pool", [True, False])
@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("scaled", [False, True])
def test_fused_projections_compute_the_same_forward(pool, heads, scaled):
    trained = _module(heads=heads, pool=pool, scaled=scaled, gamma=0.7)
    m = plain_copy(trained)
    x = (torch.randn(2, 32, 8, 6) * 3).to(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = trained(x)
        fused = FusedSelfAttention2d(m)
        assert (fused.w_q.shape, fused.w_kv.shape, fused.w_out.shape) == ((32, 16), (32, 32), (16, 32))
        out = fused(x)
        assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4)
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(fused(x.contiguous()), ref, atol=1e-5, rtol=1e-4)   # NCHW input too
        # the probe reads the plain, unpadded queries and keys, as on the trained module
        for a, b in zip(fused.queries_keys(x), trained.queries_keys(x)):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
        assert fused.key_grid(8, 6) == trained.key_grid(8, 6) and float(fused.gamma) == pytest.approx(0.7)


def test_fusing_needs_plain_weights():
    with pytest.raises(RuntimeError, match="plain_copy"):
        FusedSelfAttention2d(_module())


def test_plain_copy_leaves_the_trained_module_as_it_is():
    trained = _module()
    x = torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        before = trained(x)
        plain = plain_copy(trained)
        assert torch.allclose(plain(x), before, atol=1e-6)
        assert torch.equal(trained(x), before)   # still parametrised: its weight is computed as before
    assert type(plain.query) is torch.nn.Conv2d and type(trained.query) is not torch.nn.Conv2d


def test_gamma_zero_is_identity():
    m = _module(gamma=0.0)
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        assert torch.equal(m(x), x)


def test_gamma_starts_at_zero():
    assert SelfAttention2d(16).gamma.item() == 0.0


@pytest.mark.parametrize("heads,pool", [(1, True), (2, False)])
def test_rows_sum_to_one(heads, pool):
    m = _module(heads=heads, pool=pool)
    with torch.no_grad():
        attn = naive_attention_matrix(m, torch.randn(1, 32, 8, 8))
    assert torch.allclose(attn.sum(-1), torch.ones(attn.shape[:-1]), atol=1e-5)


def test_hand_built_case_pins_query_axis():
    """Query pixel A's vector matches only key pixel B's: A must look at B, not B at A."""
    m = plain_copy(SelfAttention2d(16, pool=False))
    with torch.no_grad():
        for conv in (m.query, m.key, m.value, m.out):
            conv.weight.zero_()
        m.query.weight[0, 0, 0, 0] = 1.0   # q channel 0 reads x channel 0
        m.key.weight[0, 1, 0, 0] = 1.0     # k channel 0 reads x channel 1
    x = torch.zeros(1, 16, 4, 4)
    a, b = (1, 2), (3, 0)                   # (row, col) of the query pixel A and key pixel B
    x[0, 0, a[0], a[1]] = 5.0               # A has a large query ...
    x[0, 1, b[0], b[1]] = 5.0               # ... that only B's key answers
    qa, kb = a[0] * 4 + a[1], b[0] * 4 + b[1]

    with AttentionRecorder(m, image_size=4) as rec, torch.no_grad():
        m(x)
    cap = rec.captures["attn"]
    row = cap.looks_at(a[1], a[0])          # x = column, y = row
    assert row.reshape(-1).argmax().item() == kb
    assert row.reshape(-1)[kb] > 0.9
    # B's own query is zero, so B looks everywhere equally.
    assert torch.allclose(cap.looks_at(b[1], b[0]), torch.full((4, 4), 1 / 16))
    # The column of key B peaks at query A.
    assert cap.looked_at_by(b[1], b[0]).reshape(-1).argmax().item() == qa
    naive = naive_attention_matrix(m, x)[0, 0]
    assert naive[qa].argmax().item() == kb


def test_heads_must_divide_channels():
    with pytest.raises(ValueError):
        SelfAttention2d(32, heads=3)


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("pool", [True, False])
def test_additive_forward_and_gradients_equal_the_full_tensor(heads, pool, monkeypatch):
    """Query chunks (recomputed in the backward pass) give the forward and the gradients of the
    whole (N, Nk, d) tensor at once (tests/naive.py)."""
    import attn_demo.models.attention as attention
    monkeypatch.setattr(attention, "CHUNK_ELEMENTS", 500)          # many chunks
    m = _module(heads=heads, pool=pool, kind="additive").train()
    twin = _module(heads=heads, pool=pool, kind="additive").train()
    twin.load_state_dict(m.state_dict())
    x = torch.randn(2, 32, 8, 6, requires_grad=True)
    out = m(x)
    ref = naive_attention_forward(twin, x)
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in m.parameters()] + [x.grad.clone()]
    x.grad = None
    ref.square().sum().backward()
    for a, b in zip(grads, [p.grad for p in twin.parameters()] + [x.grad]):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-3)


def test_unknown_attention_kind_is_refused():
    with pytest.raises(ValueError, match="attention kind"):
        SelfAttention2d(32, kind="cosine")


def test_additive_attention_is_served_as_trained():
    from attn_demo.models.config import ModelConfig
    from attn_demo.models.folding import fold_for_inference
    from attn_demo.models.networks import Generator
    cfg = ModelConfig(resolution=32, z_dim=16, g_width=16, d_width=16, g_attn=(8, 16), heads=2, attn_kind="additive")
    g = Generator(cfg).eval()
    with torch.no_grad():
        for a in g.attn.values():
            a.gamma.fill_(0.5)
            a.w.normal_()
        z = torch.randn(3, 16)
        folded = fold_for_inference(g)
        assert all(type(a) is SelfAttention2d and a.kind == "additive" for a in folded.attn.values())
        assert torch.allclose(folded(z), g(z), atol=1e-5)
    with pytest.raises(ValueError, match="have a fused form"):
        FusedSelfAttention2d(plain_copy(g.attn["8"]))


@pytest.mark.parametrize("kind", ["dot", "scaled-dot", "additive"])
@pytest.mark.parametrize("options", [dict(registers=3), dict(null=True), dict(whiten=True), dict(context=True),
                                     dict(registers=2, null=True, whiten=True, context=True)],
                         ids=lambda o: "+".join(o))
def test_attention_options_forward_equals_naive(kind, options):
    """Registers, null slot, whitening and the context path: the layer's output is the hand-written
    whole-matrix forward's, for every kind and with heads, and a folded generator serves it as trained."""
    from naive import naive_forward_with_slots
    torch.manual_seed(0)
    m = SelfAttention2d(32, heads=2, kind=kind, **options).eval()
    assert not m.fusable
    with torch.no_grad():
        m.gamma.fill_(0.7)
        if m.context:
            m.gamma_ctx.fill_(-0.5)
        x = torch.randn(2, 32, 8, 8)
        assert torch.allclose(m(x), naive_forward_with_slots(m, x), atol=1e-5)


def test_generator_with_attention_options_folds_and_round_trips(tmp_path):
    from attn_demo.models.checkpoint import load_pretrained, save_pretrained
    from attn_demo.models.config import ModelConfig
    from attn_demo.models.folding import fold_for_inference
    from attn_demo.models.networks import Generator
    cfg = ModelConfig(resolution=32, z_dim=16, g_width=16, d_width=16, attn_registers=2, attn_null=True,
                      attn_whiten=True, attn_context=True, num_classes=2)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    g = Generator(cfg).eval()
    with torch.no_grad():
        for a in g.attn.values():
            a.gamma.fill_(0.5)
            a.gamma_ctx.fill_(0.3)
        z, y = torch.randn(3, 16), torch.tensor([0, 1, 1])
        assert torch.allclose(fold_for_inference(g)(z, y), g(z, y), atol=1e-5)
    save_pretrained(tmp_path / "m", g)
    with torch.no_grad():
        assert torch.allclose(load_pretrained(tmp_path / "m")(z, y), g(z, y), atol=1e-5)
    with pytest.raises(Exception, match="attn_registers"):
        ModelConfig(attn_registers=-1)
    with pytest.raises(Exception, match="attn_null"):
        ModelConfig(attn_null="yes")
