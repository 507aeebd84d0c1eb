"""Grouped-query and multi-query attention in ak.MultiHeadAttention (lesson 11), proven equal to SDPA."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import attnkit as ak


@st.composite
def gqa_case(draw):
    kv_heads = draw(st.integers(1, 3))
    heads = kv_heads * draw(st.integers(1, 4))
    d_model = heads * draw(st.integers(1, 4))
    b, tq, tk = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return (heads, kv_heads, d_model, b, tq, tk, draw(st.booleans()), draw(st.booleans()),
            draw(st.sampled_from([torch.float32, torch.float64])), draw(st.integers(0, 2**16)))


def _sdpa_reference(layer, query, key, value, mask):
    """The same projections, attention by PyTorch's SDPA with enable_gqa=True."""
    q = layer.split_heads(layer.q_proj(query))  # (B, H, Tq, Dh)
    k = layer.split_heads(layer.k_proj(key))  # (B, Hkv, Tk, Dh)
    v = layer.split_heads(layer.v_proj(value))
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    return layer.out_proj(layer.merge_heads(context))


@given(gqa_case())
def test_gqa_equals_sdpa_outputs_and_gradients(case):
    heads, kv_heads, d_model, b, tq, tk, bias, masked, dtype, seed = case
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layer = ak.MultiHeadAttention(d_model, heads, bias=bias, num_kv_heads=kv_heads).to(dtype)
    assert layer.k_proj.weight.shape == (kv_heads * (d_model // heads), d_model)
    query = torch.randn(b, tq, d_model, generator=g, dtype=dtype, requires_grad=True)
    memory = torch.randn(b, tk, d_model, generator=g, dtype=dtype, requires_grad=True)
    mask = None
    if masked:
        mask = torch.rand(tq, tk, generator=g) > 0.4
        mask[:, 0] = True  # SDPA gives NaN on fully masked rows; attnkit gives zeros
    ours, weights = layer(query, memory, memory, mask=mask)
    assert weights.shape == (b, heads, tq, tk)
    grads_ours = torch.autograd.grad(ours.square().sum(), [query, memory, *layer.parameters()])
    ref = _sdpa_reference(layer, query, memory, memory, mask)
    grads_ref = torch.autograd.grad(ref.square().sum(), [query, memory, *layer.parameters()])
    tol = dict(atol=1e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(ours, ref, **tol)
    for a, r in zip(grads_ours, grads_ref):
        torch.testing.assert_close(a, r, **tol)


def test_gqa_groups_are_neighbouring_query_heads():
    torch.manual_seed(0)
    layer = ak.MultiHeadAttention(8, num_heads=4, num_kv_heads=2)
    x = torch.randn(1, 5, 8)
    _, weights = layer(x, x, x)
    q = layer.split_heads(layer.q_proj(x))
    k = layer.split_heads(layer.k_proj(x))  # (1, 2, 5, 2)
    for h in range(4):  # head h reads KV head h // 2
        expected = torch.softmax(q[:, h] @ k[:, h // 2].transpose(-2, -1) / 2 ** 0.5, dim=-1)
        torch.testing.assert_close(weights[:, h], expected)


def test_mqa_and_default_and_unbatched():
    torch.manual_seed(0)
    mqa = ak.MultiHeadAttention(12, num_heads=3, num_kv_heads=1)
    assert mqa.v_proj.weight.shape == (4, 12) and mqa.num_kv_heads == 1
    x = torch.randn(4, 12)
    out, weights = mqa(x, x, x)  # unbatched (T, D)
    assert out.shape == (4, 12) and weights.shape == (3, 4, 4)
    torch.testing.assert_close(out, mqa(x[None], x[None], x[None])[0][0])
    assert ak.MultiHeadAttention(12, num_heads=3).num_kv_heads == 3  # None = ordinary MHA


def test_dropout_path_uses_expanded_values():
    torch.manual_seed(0)
    layer = ak.MultiHeadAttention(8, num_heads=4, num_kv_heads=2, dropout=0.5).train()
    x = torch.randn(2, 5, 8)
    out, _ = layer(x, x, x)
    assert out.shape == (2, 5, 8) and torch.isfinite(out).all()


def test_num_kv_heads_door_checks():
    with pytest.raises(ValueError, match="num_heads=4 is not a multiple of num_kv_heads=3"):
        ak.MultiHeadAttention(8, num_heads=4, num_kv_heads=3)
    with pytest.raises(ValueError, match="num_kv_heads must be at least 1"):
        ak.MultiHeadAttention(8, num_heads=4, num_kv_heads=0)
    with pytest.raises(TypeError, match="num_kv_heads must be an integer"):
        ak.MultiHeadAttention(8, num_heads=4, num_kv_heads=2.0)
    with pytest.raises(ValueError, match="num_heads=2 is not a multiple of num_kv_heads=4"):
        ak.MultiHeadAttention(8, num_heads=2, num_kv_heads=4)  # more KV heads than query heads


def test_from_torch_is_always_full_multi_head():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(8, 4, batch_first=True)
    ours = ak.MultiHeadAttention.from_torch(theirs)
    assert ours.num_kv_heads == ours.num_heads == 4
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(ours(x, x, x)[0], theirs(x, x, x)[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_rotary_lm_gqa_cache_size_and_cached_generation(kv_heads):
    torch.manual_seed(kv_heads)
    lm = ak.RotaryLM(13, d_model=16, num_heads=4, num_kv_heads=kv_heads, num_layers=2)
    assert lm.cache_bytes_per_token() == ak.kv_cache_bytes(2, kv_heads, 4, bytes_per_value=4)
    cache = lm.new_cache(1, 20)
    prompt = torch.tensor([[1, 2, 3, 4]])
    fast = lm.generate(prompt, 16, cache=cache)
    assert cache.nbytes == 20 * lm.cache_bytes_per_token()
    assert torch.equal(fast, lm.generate(prompt, 16, use_cache=False))


def test_rotary_lm_door_checks():
    with pytest.raises(ValueError, match="num_heads=4 is not a multiple of num_kv_heads=3"):
        ak.RotaryLM(10, d_model=16, num_heads=4, num_kv_heads=3)
    with pytest.raises(ValueError, match="even width"):
        ak.RotaryLM(10, d_model=12, num_heads=4)  # heads of width 3
    lm = ak.RotaryLM(10, d_model=16, num_heads=4)
    with pytest.raises(ValueError, match="ids must lie in 0 .. 9"):
        lm(torch.tensor([[3, 10]]))
    with pytest.raises(TypeError, match="ids must hold integers"):
        lm(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="use_cache must be True or False"):
        lm.generate(torch.tensor([[1]]), 2, use_cache=1)
    with pytest.raises(ValueError, match="use_cache=False"):
        lm.generate(torch.tensor([[1]]), 2, use_cache=False, cache=lm.new_cache(1, 3))
    with pytest.raises(TypeError, match="cache must have update"):
        lm.generate(torch.tensor([[1]]), 2, cache=[])
