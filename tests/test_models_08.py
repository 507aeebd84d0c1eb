"""Lesson 08's TinyLM, its KV-cached generation and the char-level helpers."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import attnkit as ak


def small_lm(seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(vocab_size=13, d_model=32, num_heads=4, num_layers=2, max_len=64)
    args.update(kwargs)
    return ak.TinyLM(**args)


def test_forward_shapes_and_causality():
    lm = small_lm()
    ids = torch.randint(0, 13, (3, 10))
    logits = lm(ids)
    assert logits.shape == (3, 10, 13)
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 13  # change the future
    torch.testing.assert_close(lm(changed)[:, :6], logits[:, :6])  # the past does not see it
    assert not torch.allclose(lm(changed)[:, 6:], logits[:, 6:])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 3), st.integers(1, 12), st.integers(1, 20))
def test_cached_generation_equals_recompute(seed, batch, prompt_len, new):
    lm = small_lm(seed % 7)
    prompt = torch.randint(0, 13, (batch, prompt_len), generator=torch.Generator().manual_seed(seed))
    fast = lm.generate(prompt, new, use_cache=True)
    slow = lm.generate(prompt, new, use_cache=False)
    assert fast.shape == (batch, prompt_len + new)
    assert torch.equal(fast[:, :prompt_len], prompt)
    assert torch.equal(fast, slow)


def test_cached_sampling_equals_recompute_with_same_generator():
    lm = small_lm(1)
    prompt = torch.tensor([1, 2, 3])
    fast = lm.generate(prompt, 30, temperature=1.0, generator=torch.Generator().manual_seed(5))
    slow = lm.generate(prompt, 30, use_cache=False, temperature=1.0, generator=torch.Generator().manual_seed(5))
    assert fast.shape == (33,)
    assert torch.equal(fast, slow)


def test_cached_logits_equal_full_forward():
    lm = small_lm(2)
    ids = torch.randint(0, 13, (2, 12))
    cache = lm.new_cache(2)
    prefill = lm._forward(ids[:, :5], cache)
    steps = [lm._forward(ids[:, t:t + 1], cache) for t in range(5, 12)]
    cached = torch.cat([prefill] + steps, dim=1)
    torch.testing.assert_close(cached, lm(ids), atol=1e-5, rtol=1e-4)
    assert cache.lengths == [12, 12]


def test_training_reduces_loss_and_is_seeded():
    text = "the cat sat on the mat. the dog sat on the log. " * 20
    tok = ak.CharTokenizer(text)
    ids = tok.encode(text)

    def run():
        lm = small_lm(0, vocab_size=tok.vocab_size)
        loss_fn = lambda m, b: torch.nn.functional.cross_entropy(m(b[0]).flatten(0, 1), b[1].flatten())  # noqa: E731
        losses = ak.train(lm, lambda g: ak.char_lm_batch(ids, 8, 32, generator=g), loss_fn,
                          steps=60, lr=3e-3, progress=False)
        return lm, losses

    lm, losses = run()
    assert sum(losses[-5:]) / 5 < 0.6 * losses[0]
    assert run()[1] == losses
    out = tok.decode(lm.generate(tok.encode("the "), 8))
    assert out.startswith("the ") and len(out) == 12


def test_char_tokenizer_round_trip_and_errors():
    tok = ak.CharTokenizer("abc cab")
    assert tok.vocab_size == 4
    assert tok.decode(tok.encode("a cb")) == "a cb"
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("az")
    with pytest.raises(ValueError, match="outside"):
        tok.decode([0, 9])
    with pytest.raises(TypeError, match="str"):
        ak.CharTokenizer(["a"])
    with pytest.raises(ValueError, match="empty"):
        ak.CharTokenizer("")


def test_char_lm_batch_shifts_by_one():
    ids = torch.arange(100)
    x, y = ak.char_lm_batch(ids, 4, 10, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="seq_len"):
        ak.char_lm_batch(ids[:5], 1, 10)
    with pytest.raises(TypeError, match="1-d integer"):
        ak.char_lm_batch(ids.float(), 1, 3)


def test_bad_input():
    lm = small_lm()
    with pytest.raises(ValueError, match="divisible"):
        ak.TinyLM(10, d_model=30, num_heads=4)
    with pytest.raises(TypeError, match="integers"):
        lm(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="0 .. 12"):
        lm(torch.tensor([[0, 13]]))
    with pytest.raises(ValueError, match="max_len=64"):
        lm(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len=64"):
        lm.generate(torch.zeros(1, 60, dtype=torch.long), 10)
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(torch.zeros(1, 3, dtype=torch.long), 2, temperature=-1)
    with pytest.raises(TypeError, match="use_cache"):
        lm.generate(torch.zeros(1, 3, dtype=torch.long), 2, use_cache="yes")
