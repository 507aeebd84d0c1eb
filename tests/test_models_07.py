"""Tests of lesson 07's tiny Transformer (attnkit.models, lesson 07 section)."""

import pytest
import torch
from torch import nn

import attnkit as ak


def small(**kwargs):
    torch.manual_seed(0)
    options = dict(vocab_size=10, d_model=16, num_heads=2, num_layers=2, max_len=8, dim_feedforward=32)
    options.update(kwargs)
    return ak.TinyTransformer(**options)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_shapes_and_attention_weights(norm_first, positions):
    model = small(norm_first=norm_first, positions=positions)
    ids = torch.randint(0, 10, (3, 6))
    logits = model(ids)
    assert logits.shape == (3, 6, 10)
    assert isinstance(model.layers, nn.ModuleList) and len(model.layers) == 2
    for layer in model.layers:
        assert isinstance(layer, ak.TransformerEncoderLayer)
        assert layer.attn_weights.shape == (3, 2, 6, 6)
        assert torch.allclose(layer.attn_weights.sum(-1), torch.ones(3, 2, 6), atol=1e-5)
    assert isinstance(model.final_norm, nn.LayerNorm if norm_first else nn.Identity)


def test_mask_reaches_every_layer():
    model = small().eval()
    ids = torch.randint(0, 10, (2, 8))
    mask = ak.local_window_mask(8, 1)
    model(ids, mask=mask)
    for layer in model.layers:
        assert (layer.attn_weights[..., ~mask] == 0).all()
    with torch.no_grad():
        assert not torch.allclose(model(ids, mask=mask), model(ids))


def test_sinusoidal_positions_are_used_and_order_matters():
    model = small().eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        out = model(ids)
        flipped = model(ids.flip(1))
    assert not torch.allclose(out.flip(1), flipped, atol=1e-4)  # positions break permutation symmetry
    assert torch.equal(model.pos_table, ak.sinusoidal_positions(8, 16))


def test_same_seed_same_model_and_losses():
    kwargs = dict(task="reverse", length=5, steps=15, d_model=16, num_heads=2, num_layers=1, progress=False)
    model_a, losses_a = ak.train_tiny_transformer(**kwargs)
    model_b, losses_b = ak.train_tiny_transformer(**kwargs)
    assert losses_a == losses_b
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)
    assert not model_a.training


def test_training_learns_reverse():
    model, losses = ak.train_tiny_transformer("reverse", length=6, steps=150, d_model=32, num_heads=4,
                                              num_layers=1, progress=False)
    assert sum(losses[-10:]) / 10 < 0.3 * losses[0]
    assert ak.toy_task_accuracy(model, "reverse", 6) > 0.9


def test_accuracy_of_a_perfect_model_is_one():
    class Oracle(nn.Module):
        def forward(self, ids):
            return nn.functional.one_hot(ids.sort(dim=1).values, 10).float()

    assert ak.toy_task_accuracy(Oracle(), "sort", 7) == 1.0
    assert ak.toy_task_accuracy(Oracle(), "reverse", 7) < 0.5


def test_toy_task_loss_matches_cross_entropy():
    model = small().eval()
    batch = ak.toy_batch("sort", 4, 8, generator=torch.Generator().manual_seed(1))
    expected = nn.functional.cross_entropy(model(batch[0]).reshape(-1, 10), batch[1].reshape(-1))
    assert torch.allclose(ak.toy_task_loss(model, batch), expected)


def test_bad_inputs_are_named():
    model = small()
    with pytest.raises(TypeError, match="LongTensor"):
        model(torch.rand(2, 4))
    with pytest.raises(TypeError, match="LongTensor"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"T=9.*max_len=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size=10"):
        model(torch.tensor([[3, 10]]))
    with pytest.raises(ValueError, match="positions"):
        ak.TinyTransformer(10, positions="rotary")
    with pytest.raises(ValueError, match="divisible"):
        ak.TinyTransformer(10, d_model=30, num_heads=4)
    with pytest.raises(TypeError, match="num_layers"):
        ak.TinyTransformer(10, num_layers=1.5)
    with pytest.raises(ValueError, match="task"):
        ak.train_tiny_transformer("shuffle", steps=1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        ak.toy_task_accuracy(model, "sort", 8, batch_size=0)
