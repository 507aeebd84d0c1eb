"""Lesson 03's comparison with PyTorch's fused SDPA kernel: the sentences that rest on PyTorch itself.

The lesson compares ``ak.attention`` with ``F.scaled_dot_product_attention`` run inside
``sdpa_kernel(SDPBackend.FLASH_ATTENTION)`` and says (a) that this is the fused kernel and (b) that the
kernel needs values as wide as the queries and keys. These tests pin both on the installed PyTorch.
"""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import attnkit as ak


def _lesson_inputs(value_width: int):
    """The lesson's q, k, v and mask (seed 3), with values of the given width."""
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(2, 8, 5, 16, generator=g), torch.randn(2, 8, 7, 16, generator=g)
    v = torch.randn(2, 8, 7, value_width, generator=g)
    mask = torch.rand(5, 7, generator=g) > 0.3
    mask[2] = False
    return q, k, v, mask


def _ops_run(fn):
    with torch.profiler.profile() as prof:
        fn()
    return {event.key for event in prof.key_averages()}


def test_the_lessons_inputs_run_the_fused_cpu_kernel_and_match_ak_attention():
    q, k, v, mask = _lesson_inputs(16)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        ops = _ops_run(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
    assert "aten::_scaled_dot_product_attention_math" not in ops
    ours, weights = ak.attention(q, k, v, mask=mask)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert (weights[..., 2, :] == 0).all() and (ours[..., 2, :] == 0).all()


def test_the_fused_kernel_refuses_values_wider_than_the_keys():
    q, k, v, mask = _lesson_inputs(32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch explains why before it raises
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION), pytest.raises(RuntimeError, match="No available kernel"):
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # without the restriction PyTorch falls back to its unfused math path, still equal to ak.attention
    ops = _ops_run(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" not in ops
    assert torch.allclose(ak.attention(q, k, v, mask=mask)[0],
                          F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6)
