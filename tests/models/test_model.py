import copy

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from attn_demo.models.config import ModelConfig
from attn_demo.errors import ConfigError
from attn_demo.models.networks import Discriminator, Generator

from conftest import tiny_config


@pytest.mark.parametrize("res,attn", [(32, (16,)), (64, (32,)), (128, (32, 64))])
@pytest.mark.parametrize("classes", [0, 3])
def test_shapes(res, attn, classes):
    cfg = tiny_config(resolution=res, g_attn=attn, d_attn=attn[-1:], num_classes=classes)
    g, d = Generator(cfg), Discriminator(cfg)
    y = torch.tensor([0, 2]) if classes else None
    img = g(torch.randn(2, cfg.z_dim), y)
    assert img.shape == (2, 3, res, res)
    assert img.abs().max() <= 1
    assert d(img, y).shape == (2,)
    assert [f"G{r}" for r in attn] == list(g.attention_layers())


@pytest.mark.parametrize("classes", [0, 4])
def test_backward_gives_finite_gradients(classes):
    cfg = tiny_config(num_classes=classes, heads=2)
    g, d = Generator(cfg), Discriminator(cfg)
    y = torch.randint(0, classes, (4,)) if classes else None
    loss = torch.relu(1 + d(g(torch.randn(4, cfg.z_dim), y), y)).mean() \
        + torch.relu(1 - d(torch.rand(4, 3, 32, 32) * 2 - 1, y)).mean()
    loss.backward()
    for net in (g, d):
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    # gamma receives a gradient although it starts at 0
    assert all(m.gamma.grad is not None for m in g.attention_layers().values())


def test_spectral_norm_everywhere():
    g, d = Generator(tiny_config(num_classes=2)), Discriminator(tiny_config(num_classes=2))
    for net in (g, d):
        for name, m in net.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                assert hasattr(m, "parametrizations"), f"{name} lacks spectral norm"
    assert hasattr(d.embed, "parametrizations")


def test_conditional_generator_needs_class():
    g = Generator(tiny_config(num_classes=2))
    with pytest.raises(ValueError):
        g(torch.randn(1, 16))


def test_reference_config_size():
    # The configuration of the best-known public PyTorch SAGAN: ~3.6-3.8M parameters in G.
    cfg = ModelConfig(resolution=64, z_dim=128, g_width=64, g_attn=(32,), d_attn=(32,))
    n = sum(p.numel() for p in Generator(cfg).parameters())
    assert 3.4e6 < n < 4.0e6


@pytest.mark.parametrize("bad", [dict(resolution=48), dict(g_attn=(64,)), dict(g_attn=(4,)), dict(d_attn=(32,)),
                                 dict(heads=3), dict(z_dim=0), dict(num_classes=2, class_names=("a",)),
                                 dict(g_width=33)])
def test_bad_configs(bad):
    with pytest.raises(ConfigError):
        tiny_config(**bad)


def test_config_json_round_trip_and_unknown_keys():
    cfg = tiny_config(num_classes=2, class_names=("a", "b"))
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(ConfigError, match="z_dim"):
        ModelConfig.from_dict({**cfg.to_dict(), "z_dim": "128"})
    with pytest.raises(ConfigError):
        ModelConfig.from_json("{not json")


def _randomise_norms(model):
    """BN statistics, class gains and attention gammas away from their initial values, so
    folding them is tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if hasattr(m, "gamma"):
            m.gamma.data.fill_(0.7)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5, generator=g)
                m.bias.data.normal_(0, 0.3, generator=g)
        if isinstance(m, torch.nn.Embedding):
            m.weight.data.normal_(0, 0.3, generator=g)


@pytest.mark.parametrize("size", [(1, 4, 4), (3, 5, 7)])
def test_upsample_conv_weight_equals_upsample_then_conv(size):
    from attn_demo.models.folding import upsample_conv_weight
    b, h, w = size
    x, k, bias = torch.randn(b, 6, h, w), torch.randn(5, 6, 3, 3), torch.randn(5)
    ref = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), k, bias, padding=1)
    out = F.conv_transpose2d(x, upsample_conv_weight(k), bias, stride=2, padding=1)
    assert out.shape == ref.shape == (b, 5, 2 * h, 2 * w)
    assert torch.allclose(out, ref, atol=1e-4)


@pytest.mark.parametrize("size,channels_last", [((1, 4, 4), True), ((3, 5, 7), False), ((2, 8, 8), True)])
def test_phase_upsample_conv_is_the_transposed_conv_plus_the_broadcast_skip(size, channels_last):
    from attn_demo.models.folding import phase_upsample_conv, upsample_conv_phases, upsample_conv_weight
    b, h, w = size
    x, k, bias, skip = torch.randn(b, 6, h, w), torch.randn(5, 6, 3, 3), torch.randn(5), torch.randn(b, 5, h, w)
    if channels_last:
        x, skip = x.to(memory_format=torch.channels_last), skip.to(memory_format=torch.channels_last)
    wt = upsample_conv_weight(k)
    ref = F.conv_transpose2d(x, wt, bias, stride=2, padding=1) + F.interpolate(skip, scale_factor=2)
    out = phase_upsample_conv(x, upsample_conv_phases(wt), skip + bias[:, None, None])
    assert out.shape == ref.shape and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, ref, atol=1e-4)


def test_folded_generator_takes_the_phase_product_on_small_maps_only(monkeypatch):
    import attn_demo.models.folding as folding
    cfg = tiny_config(resolution=32, g_attn=(16,), num_classes=0)
    trained = Generator(cfg).eval()
    g = folding.fold_for_inference(trained).to(memory_format=torch.channels_last)
    sizes = []
    real = folding.phase_upsample_conv
    monkeypatch.setattr(folding, "phase_upsample_conv", lambda x, *a: sizes.append(x.shape[-1]) or real(x, *a))
    z = torch.randn(4, cfg.z_dim)
    with torch.no_grad():
        out = g(z)
        assert sizes == [4, 8]                       # 16x16 maps and larger go to the transposed conv
        sizes.clear()
        g(torch.randn(64, cfg.z_dim))
        assert sizes == [4]                          # at batch 64, only the 4x4 map
        sizes.clear()
        no_phases = folding.fold_for_inference(trained, skip=("phases",)).to(memory_format=torch.channels_last)
        assert torch.allclose(no_phases(z), out, atol=1e-5) and sizes == []   # the same function
    g(z)                                             # with autograd on, always the transposed conv
    assert sizes == []


@pytest.mark.parametrize("train", [True, False])
def test_up_block_is_the_documented_residual_block(train):
    """BN-ReLU-conv, upsample, BN-ReLU-conv, plus the upsampled 1x1 skip: what checkpoints were trained as."""
    from attn_demo.models.layers import UpBlock
    block = UpBlock(6, 4, num_classes=3)
    _randomise_norms(block)
    block.train(train)
    x, y = torch.randn(2, 6, 5, 5), torch.tensor([0, 2])
    twin = copy.deepcopy(block)  # same weights, same power-iteration state
    with torch.no_grad():
        assert torch.allclose(block(x, y), _documented_up_block(twin, x, y), atol=1e-5)


def _documented_up_block(block, x, y):
    """An unfolded UpBlock's function, written out with an explicit upsampling."""
    up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
    h = block.conv1(F.relu(block.bn1(x, y)))
    return block.conv2(F.relu(block.bn2(up(h), y))) + up(block.skip(x))


@pytest.mark.parametrize("classes,attn", [(0, (16,)), (3, (16,)), (3, (16, 32))])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fold_for_inference_matches_the_parametrised_generator(classes, attn, channels_last):
    from attn_demo.models.folding import FoldedUpBlock, FrozenNorm, FusedSelfAttention2d, NoNorm, fold_for_inference
    cfg = tiny_config(resolution=32, g_attn=attn, num_classes=classes)
    g = Generator(cfg).eval()
    _randomise_norms(g)
    z, y = torch.randn(4, cfg.z_dim), (torch.tensor([0, 1, 2, 0]) if classes else None)
    with torch.no_grad():
        ref = g(z, y)
        folded = fold_for_inference(g)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        folded = folded.to(memory_format=fmt)
        layouts = []   # every block hands on maps in the model's memory format
        for b in folded.blocks:
            b.register_forward_hook(lambda m, i, o: layouts.append(o.is_contiguous(memory_format=fmt)))
        out = folded(z, y)
    assert layouts and all(layouts)
    assert all(isinstance(b, FoldedUpBlock) and isinstance(b.up, torch.nn.ConvTranspose2d) for b in folded.blocks)
    # an unconditional bn2 folds into conv1; the other norms keep frozen eval-mode tables
    assert all(isinstance(b.norm2, NoNorm) == (classes == 0) and isinstance(b.norm1, FrozenNorm)
               for b in folded.blocks)
    assert all(isinstance(a, FusedSelfAttention2d) for a in folded.attn.values())
    assert not any(parametrize.is_parametrized(m) for m in folded.modules())
    # the trained generator is left as it was: still parametrised, the same function
    assert parametrize.is_parametrized(g.stem) and torch.equal(g(z, y), ref)
    # the output BatchNorm folds into the last block unless attention sits between them
    assert isinstance(folded.out_bn, torch.nn.Identity) == (32 not in attn)
    # the stem's weight: the same (out, z_dim) matrix, stored input-major, whatever the memory format
    assert folded.stem.weight.shape == (g.stem.out_features, cfg.z_dim) and folded.stem.weight.t().is_contiguous()
    assert torch.allclose(out, ref, atol=1e-5)


def test_up_block_trains_through_its_in_place_ops():
    """The skip is added into the conv's output in place: gradients are those of the formula."""
    from attn_demo.models.layers import UpBlock
    block = UpBlock(6, 4, num_classes=3).train()
    twin = copy.deepcopy(block)
    x, y = torch.randn(2, 6, 5, 5), torch.tensor([0, 2])
    block(x, y).square().sum().backward()
    _documented_up_block(twin, x, y).square().sum().backward()
    for (name, p), q in zip(block.named_parameters(), twin.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name


@pytest.mark.parametrize("classes", [0, 3])
def test_frozen_norm_is_the_eval_norm(classes):
    from attn_demo.models.folding import FrozenNorm
    from attn_demo.models.layers import ConditionalBatchNorm2d
    cbn = ConditionalBatchNorm2d(5, num_classes=classes)
    _randomise_norms(cbn)
    cbn.eval()
    x, y = torch.randn(4, 5, 3, 3), torch.tensor([0, 1, 2, 1])
    expected = cbn.bn(x) if classes == 0 else None
    computed = cbn(x, y)
    frozen = FrozenNorm(cbn)
    assert frozen.table.shape == (max(classes, 1), 10)
    assert torch.allclose(frozen(x, y), computed, atol=1e-6)
    if expected is not None:                         # the plain norm's eval mode, as one multiply-add
        assert torch.allclose(computed, expected, atol=1e-5)


def test_folded_up_block_needs_plain_weights():
    from attn_demo.models.folding import FoldedUpBlock, plain_copy
    from attn_demo.models.layers import UpBlock
    with pytest.raises(RuntimeError, match="plain_copy"):
        FoldedUpBlock(UpBlock(4, 4, num_classes=0).eval())
    block = UpBlock(4, 4, num_classes=0).eval()
    x = torch.randn(2, 4, 4, 4)
    with torch.no_grad():
        assert torch.allclose(FoldedUpBlock(plain_copy(block))(x, None), block(x, None), atol=1e-5)


def test_fold_skips_only_the_named_folds():
    from attn_demo.models.folding import FOLDS, fold_for_inference
    cfg = tiny_config(resolution=32, g_attn=(16,), num_classes=3)
    g = Generator(cfg).eval()
    _randomise_norms(g)
    z, y = torch.randn(2, cfg.z_dim), torch.tensor([0, 2])
    with torch.no_grad():
        ref = g(z, y)
        for fold in FOLDS:
            assert torch.allclose(fold_for_inference(g, skip=(fold,))(z, y), ref, atol=1e-5), fold
    with pytest.raises(ValueError, match="unknown folds"):
        fold_for_inference(g, skip=("everything",))


def test_folding_twice_changes_nothing():
    from attn_demo.models.folding import fold_for_inference
    cfg = tiny_config(resolution=32, g_attn=(16,), num_classes=0)
    g = Generator(cfg).eval()
    _randomise_norms(g)
    z = torch.randn(2, cfg.z_dim)
    with torch.no_grad():
        once = fold_for_inference(g)(z)
        twice = fold_for_inference(g)(z)
    assert torch.equal(once, twice)


def test_conditional_batchnorm_eval_is_batchnorm_then_class_affine():
    from attn_demo.models.layers import ConditionalBatchNorm2d
    cbn = ConditionalBatchNorm2d(5, num_classes=3)
    _randomise_norms(cbn)
    cbn.eval()
    x, y = torch.randn(4, 5, 3, 3), torch.tensor([0, 1, 2, 1])
    gain, bias = cbn.embed(y).chunk(2, dim=1)
    expected = cbn.bn(x) * (1 + gain[:, :, None, None]) + bias[:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)


def test_attention_kind_in_the_config():
    """Configs written before attn_kind existed load with the meaning they had; kinds are checked."""
    from attn_demo.models.config import ModelConfig
    base = tiny_config(resolution=32, g_attn=(16,), num_classes=0).to_dict()
    assert base["attn_kind"] == "dot" and "attn_scaled" not in base
    old = {k: v for k, v in base.items() if k != "attn_kind"}
    assert ModelConfig.from_dict({**old, "attn_scaled": False}).attn_kind == "dot"
    assert ModelConfig.from_dict({**old, "attn_scaled": True}).attn_kind == "scaled-dot"
    for bad in ({**old, "attn_kind": "cosine"}, {**old, "attn_scaled": "yes"},
                {**old, "attn_scaled": True, "attn_kind": "additive"}):
        with pytest.raises(ConfigError):
            ModelConfig.from_dict(bad)
    g = Generator(ModelConfig.from_dict({**old, "attn_kind": "additive"}))
    assert {a.kind for a in g.attn.values()} == {"additive"}


def test_minibatch_std_sees_the_batch_variety():
    from attn_demo.models.networks import MinibatchStd
    assert [MinibatchStd.group_size(b) for b in (32, 6, 3, 1)] == [4, 2, 1, 1]
    torch.manual_seed(0)
    h = torch.randn(8, 5, 4, 4)
    s = MinibatchStd.spread(h)
    assert s.shape == (8, 1, 4, 4)
    # by hand: consecutive groups of 4, each feature's population std over the group, averaged
    by_hand = torch.stack([h[i:i + 4].std(dim=0, unbiased=False).mean() for i in (0, 4)]).repeat_interleave(4)
    torch.testing.assert_close(s[:, 0, 0, 0], by_hand, atol=1e-5, rtol=1e-5)
    assert (s == s[:, :, :1, :1]).all()                        # one value per image, everywhere
    same = h[:1].expand(8, -1, -1, -1)                         # one image repeated: nothing varies
    assert MinibatchStd.spread(same).max() < 1e-3
    assert MinibatchStd.spread(h[:1]).max() < 1e-3             # a lone image (the studio's D probe)


@pytest.mark.parametrize("classes", [0, 3])
def test_d_mbstd_option(classes):
    cfg = tiny_config(d_mbstd=True, num_classes=classes)
    d = Discriminator(cfg)
    assert d.mbstd is not None and Discriminator(tiny_config(num_classes=classes)).mbstd is None
    x = torch.randn(8, 3, cfg.resolution, cfg.resolution)
    y = torch.randint(0, classes, (8,)) if classes else None
    out = d(x, y)
    assert out.shape == (8,) and torch.isfinite(out).all()
    one = d(x[:1], None if y is None else y[:1])             # a batch of one is judged too
    assert one.shape == (1,) and torch.isfinite(one).all()
    # D's verdict on an image depends on the rest of its group: the option does something
    other = d(torch.cat([x[:1], torch.randn(3, 3, cfg.resolution, cfg.resolution)]), None if y is None else y[:4])
    alone = d(torch.cat([x[:1]] * 4), None if y is None else y[:1].repeat(4))
    assert not torch.allclose(other[0], alone[0])
    assert ModelConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "d_mbstd"}).d_mbstd is False
    with pytest.raises(ConfigError, match="d_mbstd"):
        tiny_config(d_mbstd="yes")
