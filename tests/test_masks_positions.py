"""Masks and sinusoidal positions (lessons 03, 04, 08)."""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

import attnkit as ak


@given(st.integers(0, 12))
def test_causal_mask_is_lower_triangular(n):
    m = ak.causal_mask(n)
    assert m.shape == (n, n) and m.dtype == torch.bool
    for i in range(n):
        for j in range(n):
            assert m[i, j] == (j <= i)


@given(st.integers(0, 10), st.integers(0, 12))
def test_local_window_mask_rule(n, window):
    m = ak.local_window_mask(n, window)
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    assert torch.equal(m, (i - j).abs() <= window)


def test_window_zero_is_diagonal_and_large_window_is_full():
    assert torch.equal(ak.local_window_mask(5, 0), torch.eye(5, dtype=torch.bool))
    assert ak.local_window_mask(5, 4).all()


def test_causal_mask_matches_sdpa_is_causal():
    q, k, v = torch.randn(2, 6, 4), torch.randn(2, 6, 4), torch.randn(2, 6, 3)
    ours, _ = ak.attention(q, k, v, mask=ak.causal_mask(6))
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, theirs)


def test_padding_mask_values_and_defaults():
    m = ak.padding_mask([2, 0, 3])
    assert m.shape == (3, 3)
    assert m.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert ak.padding_mask(torch.tensor([1, 2]), max_len=4).shape == (2, 4)


def test_padding_mask_hides_padded_keys():
    lengths = [3, 5]
    q, k, v = torch.randn(2, 4, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 2)
    out, w = ak.attention(q, k, v, mask=ak.padding_mask(lengths, 5)[:, None, :])
    assert (w[0, :, 3:] == 0).all()
    ref, _ = ak.attention(q[:1], k[:1, :3], v[:1, :3])
    torch.testing.assert_close(out[:1], ref)


@given(st.integers(0, 40), st.integers(1, 33))
def test_sinusoidal_formula(seq_len, d_model):
    pe = ak.sinusoidal_positions(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == torch.float32
    for p in range(0, seq_len, 7):
        for c in range(d_model):
            angle = p / 10000 ** ((c - c % 2) / d_model)
            expected = math.sin(angle) if c % 2 == 0 else math.cos(angle)
            assert abs(pe[p, c].item() - expected) < 1e-6


def test_odd_width_ends_with_a_sine():
    pe = ak.sinusoidal_positions(5, 7)
    assert pe.shape == (5, 7)
    torch.testing.assert_close(pe[:, 6], torch.sin(torch.arange(5) / 10000 ** (6 / 7)))


def test_positions_are_distinct():
    pe = ak.sinusoidal_positions(64, 16)
    dists = torch.cdist(pe, pe) + torch.eye(64) * 1e3
    assert dists.min() > 0.1
