"""attnkit.memory: the delayed-copy task and the segment-reading Transformer with a Transformer-XL memory."""

import pytest
import torch
from torch.nn import functional as F

import attnkit as ak

# --- delayed_copy_batch -------------------------------------------------------------------

def test_delayed_copy_targets_are_the_inputs_shifted_by_the_delay():
    x, y = ak.delayed_copy_batch(4, 12, delay=5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 12) and x.dtype == y.dtype == torch.long
    assert (y[:, :5] == -100).all()
    assert torch.equal(y[:, 5:], x[:, :7])
    assert 0 <= int(x.min()) and int(x.max()) < 10


def test_delayed_copy_is_seeded():
    a = ak.delayed_copy_batch(3, 8, 2, vocab_size=5, generator=torch.Generator().manual_seed(4))
    b = ak.delayed_copy_batch(3, 8, 2, vocab_size=5, generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(s, t) for s, t in zip(a, b))
    assert int(a[0].max()) < 5


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(delay=8), ValueError, "delay must be smaller than length, got delay=8, length=8"),
    (dict(delay=0), ValueError, "delay must be at least 1"),
    (dict(delay=1.5), TypeError, "delay"),
    (dict(length=1), ValueError, "length must be at least 2"),
    (dict(vocab_size=1), ValueError, "vocab_size"),
    (dict(generator=0), TypeError, "generator must be a torch.Generator"),
])
def test_delayed_copy_bad_input_names_it(kwargs, error, words):
    args = dict(batch_size=2, length=8, delay=3) | kwargs
    with pytest.raises(error, match=words):
        ak.delayed_copy_batch(**args)


# --- SegmentMemoryTransformer -------------------------------------------------------------

def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = dict(d_model=16, num_heads=2, segment_len=4) | kwargs
    return ak.SegmentMemoryTransformer(10, **kwargs).eval()


def test_shapes_and_the_last_segments_weights():
    model = _model(memory_len=3)
    ids = torch.randint(0, 10, (2, 10))  # segments of 4, 4, 2
    assert model(ids).shape == (2, 10, 10)
    assert model.layers[0].attn_weights.shape == (2, 2, 2, 5)  # 2 queries, 3 memory + 2 current keys
    model(ids, use_memory=False)
    assert model.layers[0].attn_weights.shape == (2, 2, 2, 2)


def test_without_memory_each_segment_is_read_alone():
    model = _model()
    ids = torch.randint(0, 10, (3, 8))
    with torch.no_grad():
        both = model(ids, use_memory=False)
        second = model(ids[:, 4:], use_memory=False)
    assert torch.allclose(both[:, 4:], second, atol=1e-6)


def test_the_first_segment_is_the_same_with_and_without_memory():
    model = _model(num_layers=2)
    ids = torch.randint(0, 10, (3, 8))
    with torch.no_grad():
        assert torch.allclose(model(ids)[:, :4], model(ids, use_memory=False)[:, :4], atol=1e-6)


def test_memory_carries_the_previous_segment_and_only_with_memory():
    model = _model()
    ids = torch.randint(0, 10, (2, 8))
    changed = ids.clone()
    changed[:, 0] = (changed[:, 0] + 1) % 10  # a token of the first segment
    with torch.no_grad():
        assert not torch.allclose(model(ids)[:, 4:], model(changed)[:, 4:])
        assert torch.allclose(model(ids, use_memory=False)[:, 4:], model(changed, use_memory=False)[:, 4:])


def test_attention_is_causal_inside_a_segment():
    model = _model()
    ids = torch.randint(0, 10, (2, 8))
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 10
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_no_gradient_flows_into_the_memory():
    model = _model()
    ids = torch.tensor([[0, 1, 2, 3, 5, 6, 7, 8]])  # segment 1 uses ids 0-3, segment 2 ids 5-8
    model(ids)[:, 4:].sum().backward()
    grad = model.embed.weight.grad  # (V, D)
    assert grad[:4].abs().sum() == 0  # segment 1's tokens reached segment 2 only through the memory
    assert grad[5:9].abs().sum() > 0


def test_memory_len_zero_reads_segments_alone():
    model = _model(memory_len=0)
    ids = torch.randint(0, 10, (2, 8))
    with torch.no_grad():
        assert torch.allclose(model(ids), model(ids, use_memory=False), atol=1e-6)


def test_same_seed_same_model():
    ids = torch.randint(0, 10, (2, 8))
    with torch.no_grad():
        assert torch.equal(_model(3)(ids), _model(3)(ids))


@pytest.fixture
def one_thread():
    """A tiny model trains faster on one thread than on two fighting over small matrices."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_with_memory_it_learns_a_copy_across_segments_and_without_it_cannot(one_thread):
    def accuracy(use_memory):
        torch.manual_seed(0)
        model = ak.SegmentMemoryTransformer(10, d_model=32, num_heads=2, segment_len=4)

        def loss_fn(m, batch):
            ids, targets = batch
            return F.cross_entropy(m(ids, use_memory=use_memory).flatten(0, 1), targets.flatten(),
                                   ignore_index=-100)

        ak.train(model, lambda g: ak.delayed_copy_batch(32, 8, 4, generator=g), loss_fn, steps=80,
                 lr=1e-2, warmup=8, clip=1.0, progress=False)
        ids, targets = ak.delayed_copy_batch(256, 8, 4, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            predicted = model(ids, use_memory=use_memory).argmax(-1)
        answered = targets != -100
        return (predicted[answered] == targets[answered]).float().mean().item()

    assert accuracy(True) > 0.9
    assert accuracy(False) < 0.2


@pytest.mark.parametrize("ids, kwargs, error, words", [
    (torch.zeros(2, 4), {}, TypeError, "LongTensor"),
    ([[1, 2]], {}, TypeError, "list"),
    (torch.zeros(4, dtype=torch.long), {}, ValueError, r"\(B, T\), got \(4\)"),
    (torch.full((1, 4), 10), {}, ValueError, "0..9"),
    (torch.zeros(1, 4, dtype=torch.long), dict(use_memory=1), TypeError, "use_memory"),
])
def test_bad_input_names_it(ids, kwargs, error, words):
    with pytest.raises(error, match=words):
        _model()(ids, **kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(segment_len=0), ValueError, "segment_len must be at least 1"),
    (dict(memory_len=-1), ValueError, "memory_len must be at least 0"),
    (dict(d_model=15, num_heads=2), ValueError, "divisible"),
    (dict(num_layers=0), ValueError, "num_layers"),
])
def test_bad_construction_names_it(kwargs, error, words):
    with pytest.raises(error, match=words):
        ak.SegmentMemoryTransformer(10, **kwargs)
