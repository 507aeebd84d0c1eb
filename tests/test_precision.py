"""The precision matrix: every dtype x every kind of mask, against SDPA and the float64 answer.

Tolerances, per dtype (``eps`` is the dtype's machine epsilon, one unit in the last place at 1):

* float64, float32: attnkit and SDPA compute the same thing in the same dtype; they agree to
  ``1e-12`` and ``2e-6`` (a few float32 roundings on outputs of size about 1).
* float16, bfloat16: attnkit computes in float32 and rounds once at the end (as PyTorch's CPU
  kernels accumulate them). Each result is then within a rounding or two of the exact answer, so
  attnkit and SDPA may differ by 2 units in the last place of the output's magnitude:
  ``2 * eps * max(1, |output|)`` (float16 ``eps`` ~ 9.8e-4, bfloat16 ``eps`` ~ 7.8e-3). Against the
  float64 answer (computed from the same rounded inputs) attnkit's error must not exceed SDPA's
  by more than half a unit: it is at least as accurate as PyTorch in the same dtype.

Gradients, against the float64 gradient (same rounded inputs), relative to its largest entry:
within ``1e-11`` (float64), ``2e-5`` (float32), ``4 * eps`` (float16, bfloat16), or no worse than
SDPA's own gradient in that dtype. (With saturated softmaxes SDPA's float32 gradient can be off by
``3e-6`` of its size, where attnkit's is ``1.4e-7``.)
"""

import math

import pytest
import torch
import torch.nn.functional as F

import attnkit as ak

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
SAME_DTYPE_TOL = {torch.float64: 1e-12, torch.float32: 2e-6}
CASES = ["no mask", "bool", "additive", "fully masked", "overflowing scores"]
FUNCTIONS = {
    "attention": lambda q, k, v, mask: ak.attention(q, k, v, mask=mask)[0],
    "memory_efficient": lambda q, k, v, mask: ak.memory_efficient_attention(q, k, v, mask=mask,
                                                                            block_size=8),
}


def _inputs(case: str, dtype: torch.dtype, seed: int = 0):
    """q, k, v of shape (2, 3, 12, 16) / (2, 3, 20, 16) in ``dtype``, and the case's mask."""
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 3, 12, 16, generator=g), torch.randn(2, 3, 20, 16, generator=g)
    v = torch.randn(2, 3, 20, 16, generator=g)
    keep = torch.rand(12, 20, generator=g) > 0.4
    keep[:, 0] = True
    mask = None
    if case == "bool":
        mask = keep
    elif case == "additive":
        mask = (torch.randn(12, 20, generator=g)).masked_fill(~keep, -math.inf).to(dtype)
    elif case == "fully masked":
        keep[3] = False  # query 3 sees nothing
        mask = keep
    elif case == "overflowing scores":
        # |q|, |k| ~ 70 at d = 16: q . k reaches ~ 8e4, past float16's 65504 before the scale
        q, k = q.sign() * 70.0, k.sign() * 70.0
        mask = keep
    return q.to(dtype), k.to(dtype), v.to(dtype), mask


def _sdpa(q, k, v, mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _eps(dtype):
    return torch.finfo(dtype).eps


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_output_matches_sdpa_in_the_same_dtype(dtype, case, name):
    q, k, v, mask = _inputs(case, dtype)
    out = FUNCTIONS[name](q, k, v, mask)
    sdpa = _sdpa(q, k, v, mask)
    assert out.dtype == dtype and out.shape == sdpa.shape
    assert torch.isfinite(out).all(), f"{name} gave non-finite outputs in {dtype}, {case}"
    diff = (out.double() - sdpa.double()).abs().max().item()
    if dtype in SAME_DTYPE_TOL:
        assert diff <= SAME_DTYPE_TOL[dtype], f"{name} vs SDPA in {dtype}, {case}: {diff}"
        return
    size = max(1.0, sdpa.double().abs().max().item())
    assert diff <= 2 * _eps(dtype) * size, f"{name} vs SDPA in {dtype}, {case}: {diff}"
    # and at least as close as SDPA to the exact answer from the same (rounded) inputs
    exact = _sdpa(q.double(), k.double(), v.double(), None if mask is None else mask.double()
                  if mask.is_floating_point() else mask)
    ours = (out.double() - exact).abs().max().item()
    theirs = (sdpa.double() - exact).abs().max().item()
    assert ours <= theirs + 0.5 * _eps(dtype) * size, f"{name}: error {ours} vs SDPA's {theirs}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fully_masked_query_is_zero_and_masked_keys_get_no_weight(dtype):
    q, k, v, mask = _inputs("overflowing scores", dtype)
    mask = mask.clone()
    mask[3] = False
    out, weights = ak.attention(q, k, v, mask=mask)
    assert (weights[..., 3, :] == 0).all() and (out[..., 3, :] == 0).all()
    assert (weights[..., ~mask] == 0).all()  # exactly zero, not merely small
    mea = ak.memory_efficient_attention(q, k, v, mask=mask, block_size=8)
    assert (mea[..., 3, :] == 0).all()


def test_a_masked_key_gets_no_weight_when_an_allowed_score_is_minus_inf():
    # key 0's score is -inf (huge opposite-sign product); key 1 is masked out
    q = torch.tensor([[[1e30, 1.0]]])
    k = torch.tensor([[[-1e30, 0.0], [1.0, 0.0]]])
    v = torch.tensor([[[1.0], [2.0]]])
    mask = torch.tensor([[True, False]])
    out, weights = ak.attention(q, k, v, mask=mask)
    assert weights.tolist() == [[[0.0, 0.0]]] and out.tolist() == [[[0.0]]]
    assert torch.equal(out, _sdpa(q, k, v, mask))
    assert ak.memory_efficient_attention(q, k, v, mask=mask).tolist() == [[[0.0]]]


def test_all_minus_inf_row_without_a_mask_gives_zeros_like_sdpa():
    q = torch.tensor([[[1e30, 1.0], [1.0, 1.0]]])
    k = torch.tensor([[[-1e30, 0.0], [-1e30, 0.0]]])
    v = torch.tensor([[[1.0], [2.0]]])
    out, weights = ak.attention(q, k, v)
    sdpa = _sdpa(q, k, v, None)
    assert torch.equal(out, sdpa) and out[0, 0, 0] == 0
    assert weights[0, 0].tolist() == [0.0, 0.0] and weights[0, 1].tolist() == [0.5, 0.5]
    assert torch.equal(ak.memory_efficient_attention(q, k, v), sdpa)


def test_a_nan_score_is_not_hidden():
    q, k, v = torch.randn(1, 3, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 2)
    k[0, 2, 0] = math.nan  # an allowed key: every query's row is NaN, as in SDPA
    assert ak.attention(q, k, v)[0].isnan().all()
    assert ak.memory_efficient_attention(q, k, v).isnan().all()
    # a masked-out key's NaN is dropped (attnkit's documented difference from SDPA)
    keep = torch.tensor([True, True, False, True, True])
    assert torch.isfinite(ak.attention(q, k, v, mask=keep)[0]).all()


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gradients(dtype, case, name):
    q, k, v, mask = _inputs(case, dtype, seed=1)
    if case == "overflowing scores":  # a saturated softmax: gradients that are all rounding
        q, k = q / 8, k / 8
    upstream = torch.randn(q.shape[:-1] + (v.shape[-1],), generator=torch.Generator().manual_seed(2))

    def grads(fn, q, k, v, mask):
        q, k, v = (t.detach().requires_grad_(True) for t in (q, k, v))
        out = fn(q, k, v, mask)
        return torch.autograd.grad((out * upstream.to(out.dtype)).sum(), (q, k, v))

    ours = grads(FUNCTIONS[name], q, k, v, mask)
    assert all(g.dtype == dtype and torch.isfinite(g).all() for g in ours), f"{name}: {dtype}, {case}"
    mask64 = mask.double() if mask is not None and mask.is_floating_point() else mask
    exact = grads(_sdpa, q.double(), k.double(), v.double(), mask64)
    theirs = grads(_sdpa, q, k, v, mask)
    tol = 10 * SAME_DTYPE_TOL[dtype] if dtype in SAME_DTYPE_TOL else 4 * _eps(dtype)
    for g, s, e in zip(ours, theirs, exact):
        size = max(1.0, e.abs().max().item())
        our_error = (g.double() - e).abs().max().item()
        sdpa_error = (s.double() - e).abs().max().item()
        assert our_error <= max(tol * size, sdpa_error), (
            f"{name} grad in {dtype}, {case}: error {our_error}, SDPA's {sdpa_error}, largest entry {size}")


def test_float32_attention_is_unchanged_by_the_half_precision_path():
    # float32 and float64 run the same code as before: compare with the plain formula bit for bit
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 4, 9, 8, generator=g) for _ in range(3))
    keep = torch.rand(9, 9, generator=g) > 0.3
    keep[:, 0] = True
    scores = q @ k.transpose(-2, -1) * 8 ** -0.5
    expected = torch.softmax(scores.masked_fill(~keep, -math.inf), dim=-1)
    out, weights = ak.attention(q, k, v, mask=keep)
    assert torch.equal(weights, expected) and torch.equal(out, expected @ v)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_weights_keep_the_input_dtype(dtype):
    q, k, v, mask = _inputs("bool", dtype)
    out, weights = ak.attention(q, k, v, mask=mask)
    assert out.dtype == weights.dtype == dtype
    rows = weights.double().sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=4 * _eps(dtype) * 20)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_local_and_block_sparse_compute_half_precision_in_float32(dtype):
    q, k, v = (t[..., :12, :] for t in _inputs("overflowing scores", dtype)[:3])
    window_mask = ak.local_window_mask(12, 2)
    local, banded = ak.local_attention(q, k, v, window=2, return_weights=True)
    dense, weights = ak.attention(q, k, v, mask=window_mask)
    assert local.dtype == banded.dtype == dtype and torch.isfinite(local).all()
    tol = 2 * _eps(dtype) * max(1.0, dense.double().abs().max().item())  # both: float32 inside, one rounding
    assert (local.double() - dense.double()).abs().max() <= tol
    sparse = ak.block_sparse_attention(q, k, v, block_size=4)
    expected = ak.attention(q, k, v, mask=ak.block_sparse_mask(12, 4))[0]
    assert sparse.dtype == dtype and (sparse.double() - expected.double()).abs().max() <= tol
