"""The torch SpliceAI-10k definition: valid-cone and same-padded forms, 1-D and 2-D layouts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs the export extra: pip install '.[export]'")

from export.model import CONTEXT, Ensemble, SpliceAINet, Variant  # noqa: E402


def test_context_is_10000():
    assert CONTEXT == 10_000


def _random_net(variant: Variant, seed: int) -> SpliceAINet:
    g = torch.Generator().manual_seed(seed)
    net = SpliceAINet(variant)
    with torch.no_grad():
        for name, p in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return net


def _same_weights(src: SpliceAINet, variant: Variant) -> SpliceAINet:
    dst = SpliceAINet(variant)
    state = {}
    for k, v in src.state_dict().items():
        target = dst.state_dict()[k]
        state[k] = v.reshape(target.shape)  # 1-D [O, I, K] <-> 2-D [O, I, 1, K]
    dst.load_state_dict(state)
    return dst.eval()


@pytest.mark.parametrize("length", [10_003])
def test_valid_cone_equals_same_padding_and_crop(length):
    base = _random_net(Variant("same", "1d"), seed=1)
    x = torch.eye(4)[torch.randint(0, 4, (2, length), generator=torch.Generator().manual_seed(2))]
    x[0, 100:300] = 0  # an N run
    outs = {}
    with torch.no_grad():
        for v in (Variant("same", "1d"), Variant("valid", "1d"), Variant("same", "2d"),
                  Variant("valid", "2d")):
            outs[v] = Ensemble([_same_weights(base, v)]).double()(x.double())
    ref = outs[Variant("same", "1d")]
    assert ref.shape == (2, length - CONTEXT, 3)
    for v, y in outs.items():
        assert y.shape == ref.shape, v
        # float64: the two forms are the same sums; only rounding order may differ
        assert torch.allclose(y, ref, atol=1e-12, rtol=0), (v, (y - ref).abs().max())


def test_ensemble_is_the_mean_of_members():
    a, b = _random_net(Variant(), 5), _random_net(Variant(), 6)
    x = torch.eye(4)[
        torch.randint(0, 4, (1, CONTEXT + 3), generator=torch.Generator().manual_seed(7))]
    with torch.no_grad():
        both = Ensemble([a, b])(x)
        mean = (Ensemble([a])(x) + Ensemble([b])(x)) / 2
    assert torch.allclose(both, mean, atol=1e-7)


def test_bad_variant_is_rejected():
    with pytest.raises(ValueError):
        Variant("reflect", "1d")


def test_trunk_stages_and_head_compose_to_the_full_model():
    from export.split import HEAD_HALF, STAGE_HALVES, TRUNK_HALF, Head, TrunkStage

    assert TRUNK_HALF + HEAD_HALF == CONTEXT // 2 and sum(STAGE_HALVES) == TRUNK_HALF
    members = [_random_net(Variant(), 8).double(), _random_net(Variant(), 9).double()]
    x = torch.eye(4)[
        torch.randint(0, 4, (2, CONTEXT + 21), generator=torch.Generator().manual_seed(3))]
    x = x.double()
    with torch.no_grad():
        full = Ensemble(members)(x)
        h, s = TrunkStage(members, 0)(x)
        for i in range(1, len(STAGE_HALVES)):
            h, s = TrunkStage(members, i)(h, s)
            assert h.shape[-1] == x.shape[1] - 2 * sum(STAGE_HALVES[:i + 1])
        y = Head(members)(h, s[..., HEAD_HALF:-HEAD_HALF])
    assert y.shape == full.shape == (2, 21, 3)
    assert torch.allclose(y, full, atol=1e-12, rtol=0), (y - full).abs().max()
