"""Every checker against answers written as learners write them.

``WRONG``: each wrong answer gets ❌ and the hint that names its mistake (a fragment of the line).
``RIGHT``: each odd-but-correct answer (float64, printing, loops, einsum, torch.softmax, a list for a
tuple, ...) gets ✅. Lessons 01–08.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import attnkit as ak
from attnkit import check

# --- helpers the answers share ---------------------------------------------------------------------


def _sm(x, shift):
    e = torch.exp(x - shift)
    return e / e.sum(-1, keepdim=True)


def _weights(q, k, scale=None, dim=-1):
    s = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale is None else scale)
    return torch.softmax(s, dim=dim)


def _sa(x, wq, wk, wv, scale=None, dim=-1):
    q, k, v = x @ wq, x @ wk, x @ wv
    return _weights(q, k, scale, dim) @ v


def _online(q, k, v, b, mode="ok"):
    """A learner's online softmax; ``mode`` picks one of the usual slips."""
    scale = 1 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), 0.0 if mode == "start0" else -math.inf)
    s_run = torch.zeros_like(m)
    o = torch.zeros(q.shape[:-1] + (v.shape[-1],))
    for start in range(0, k.shape[-2], b):
        s = q @ k[..., start:start + b, :].transpose(-2, -1) * scale
        if mode == "nomax":
            e = torch.exp(s)
            s_run, o = s_run + e.sum(-1, keepdim=True), o + e @ v[..., start:start + b, :]
            continue
        new = s.amax(-1, keepdim=True) if mode == "perblock" else torch.maximum(m, s.amax(-1, keepdim=True))
        c = torch.exp(m - new)
        e = torch.exp(s - new)
        s_run = c * s_run + e.sum(-1, keepdim=True)
        o = c * o + e @ v[..., start:start + b, :]
        m = new
    return o / s_run


def _first_block_max(q, k, v, b):
    """Keeps the first block's max for good: exact until a later block scores far higher."""
    m, total, out = None, 0.0, 0.0
    for start in range(0, k.shape[-2], b):
        s = q @ k[..., start:start + b, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        m = s.amax(-1, keepdim=True) if m is None else m
        e = torch.exp(s - m)
        total, out = total + e.sum(-1, keepdim=True), out + e @ v[..., start:start + b, :]
    return out / total


def _per_query_rows(q, k, v, b):
    """A whole row of scores per query, without a matrix product: reads no key in blocks."""
    rows = []
    for i in range(q.shape[-2]):
        s = (q[..., i:i + 1, :] * k).sum(-1) / math.sqrt(q.shape[-1])  # (..., Tk)
        rows.append((torch.softmax(s, -1)[..., None] * v).sum(-2))  # (..., Dv)
    return torch.stack(rows, -2)


def _keys_transposed_once(q, k, v, b):
    """A right loop that transposes all the keys once and slices blocks of columns from them."""
    k_t = k.transpose(-2, -1) * q.new_tensor(1 / math.sqrt(q.shape[-1]))  # (..., D, Tk): keys only
    m = torch.full(q.shape[:-1] + (1,), -math.inf).to(q)
    total, out = torch.zeros_like(m), torch.zeros(q.shape[:-1] + (v.shape[-1],))
    for start in range(0, k.shape[-2], b):
        s = q @ k_t[..., :, start:start + b]  # (..., Tq, b)
        new = torch.maximum(m, s.amax(-1, keepdim=True))
        e, c = torch.exp(s - new), torch.exp(m - new)
        total, out, m = c * total + e.sum(-1, keepdim=True), c * out + e @ v[..., start:start + b, :], new
    return out / total


def _one_query_in_blocks(q, k, v, b):
    """A right loop over queries, each reading the keys in blocks."""
    return torch.cat([_online(q[..., i:i + 1, :], k, v, b) for i in range(q.shape[-2])], dim=-2)


def _shift_if_large(x):
    if x.max() > 80:
        x = x - x.amax(-1, keepdim=True)
    e = torch.exp(x)
    return e / e.sum(-1, keepdim=True)


def _window(n, w):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j <= w)


def _step(q, k, v, ck, cv, attend=lambda q, k, v: ak.attention(q, k, v)[0]):
    ck, cv = torch.cat([ck, k], dim=-2), torch.cat([cv, v], dim=-2)
    return attend(q, ck, cv), ck, cv


def _macro(p, t):
    rows = [(r[s != -100] == s[s != -100]).float().mean() for r, s in zip(p, t) if (s != -100).any()]
    return torch.stack(rows).mean()


def _zero_and_bias(x, sublayer, norm):
    with torch.no_grad():
        sublayer.weight.zero_()
    return x + sublayer.bias


def _sub_inplace(x):
    x -= x.amax(dim=-1, keepdim=True)
    e = torch.exp(x)
    return e / e.sum(-1, keepdim=True)


def _clamp_entropy(w):
    w.clamp_(min=1e-12)
    return -(w * w.log()).sum(-1)


def _zero_padding(states, lengths):
    states[torch.arange(states.shape[1])[None, :] >= lengths[:, None]] = 0.0
    return states[torch.arange(states.shape[0]), lengths - 1]


def _iadd_positions(x):
    x += ak.sinusoidal_positions(x.shape[1], x.shape[2])
    return x


def _transpose_inplace_merge(x):
    B, H, T, Dh = x.shape
    return x.transpose_(1, 2).reshape(B, T, H * Dh)


def _cat_into_cache(q, k, v, ck, cv):
    ck.resize_(ck.shape[0], ck.shape[1], ck.shape[2] + 1, ck.shape[3])
    return _step(q, k, v, ck[..., :-1, :], cv)


def _no_grad_ffn(x, l1, l2):
    with torch.no_grad():
        return l2(torch.relu(l1(x)))


def _loop_softmax(x):
    flat = x.reshape(-1, x.shape[-1])
    rows = []
    for row in flat:
        m = max(row.tolist())
        e = [math.exp(v - m) for v in row.tolist()]
        rows.append([v / sum(e) for v in e])
    return torch.tensor(rows, dtype=torch.float64).reshape(x.shape)


def _printing_attention(q, k, v):
    print("shapes:", tuple(q.shape), tuple(k.shape), tuple(v.shape))
    return _weights(q, k) @ v


# --- wrong answers: (checker, label, answer, fragment of the ❌ line) ------------------------------------

WRONG = [
    # lesson 01
    ("bag_of_embeddings", "sum", lambda ids, t: t[ids].sum(1), "summed the embeddings"),
    ("bag_of_embeddings", "features", lambda ids, t: t[ids].mean(-1), "embedding features"),
    ("bag_of_embeddings", "batch", lambda ids, t: t[ids].mean(0), "over the batch"),
    ("bag_of_embeddings", "max", lambda ids, t: t[ids].amax(1), "max over the tokens"),
    ("bag_of_embeddings", "unique", lambda ids, t: torch.stack([t[r.unique()].mean(0) for r in ids]),
     "distinct tokens"),
    ("bag_of_embeddings", "keepdim", lambda ids, t: t[ids].mean(1, keepdim=True), "keepdim"),
    ("bag_of_embeddings", "detach", lambda ids, t: t[ids].mean(1).detach(), "cut off from autograd"),
    ("bag_of_embeddings", "+= on the table", lambda ids, t: (t.__iadd__(0.5), t[ids].mean(1) - 0.5)[1],
     "changed its input `t` in place"),
    ("concat_embeddings", "interleaved", lambda ids, t: t[ids].transpose(1, 2).flatten(1), "interleaved"),
    ("concat_embeddings", "whole batch", lambda ids, t: t[ids].flatten(), "whole batch"),
    ("concat_embeddings", "ids.T", lambda ids, t: t[ids.T].flatten(1), "ids.T"),
    ("concat_embeddings", "mean", lambda ids, t: t[ids].mean(1), "order-blind"),
    # lesson 02
    ("additive_attention_weights", "no tanh",
     lambda q, k, wq, wk, v: torch.softmax(((q @ wq)[:, None] + k @ wk) @ v, -1), "forgot the tanh"),
    ("additive_attention_weights", "scores",
     lambda q, k, wq, wk, v: torch.tanh((q @ wq)[:, None] + k @ wk) @ v, "returned the scores"),
    ("additive_attention_weights", "no time axis",
     lambda q, k, wq, wk, v: torch.softmax(torch.tanh(q @ wq + k @ wk) @ v, -1), "unsqueeze(1)"),
    ("additive_attention_weights", "sum not v",
     lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq)[:, None] + k @ wk).sum(-1), -1),
     "dot product with v"),
    ("additive_attention_weights", "no_grad",
     lambda q, k, wq, wk, v: check.lesson02._additive_ref(q, k, wq, wk, v).detach(), "cut off"),
    ("last_state", "last column", lambda s, n: s[:, -1], "last column"),
    ("last_state", "index n", lambda s, n: s[torch.arange(s.shape[0]), n], "off by one"),
    ("last_state", "clamped n", lambda s, n: s[torch.arange(s.shape[0]), n.clamp(max=s.shape[1] - 1)],
     "off by one"),
    ("last_state", "longest", lambda s, n: s[:, int(n.max()) - 1], "longest length"),
    ("last_state", "lengths -= 1", lambda s, n: s[torch.arange(s.shape[0]), n.sub_(1)],
     "changed its input `n` in place"),
    ("last_state", "zeroing padding", _zero_padding, "changed its input `states` in place"),
    ("token_accuracy", "macro", _macro, "macro"),
    ("token_accuracy", "ignored scored", lambda p, t: (p == t).float().mean(), "ignored positions"),
    ("token_accuracy", "ignored right", lambda p, t: ((p == t) | (t == -100)).float().mean(), "as right"),
    ("token_accuracy", "sequences", lambda p, t: ((p == t) | (t == -100)).all(1).float().mean(),
     "whole sequences"),
    ("token_accuracy", "percent", lambda p, t: 100 * check.lesson02._token_accuracy_ref(p, t), "percentage"),
    ("token_accuracy", "last two columns", lambda p, t: (p[:, :-2] == t[:, :-2]).float().mean(),
     "not -100"),
    ("token_accuracy", "integer division", lambda p, t: (p == t).sum() // (t != -100).sum(), "int64"),
    # lesson 03
    ("softmax", "min", lambda x: _sm(x, x.amin(-1, keepdim=True)), "row's min"),
    ("softmax", "mean", lambda x: _sm(x, x.mean(-1, keepdim=True)), "row's mean"),
    ("softmax", "first", lambda x: _sm(x, x[..., :1]), "first logit"),
    ("softmax", "global max", lambda x: _sm(x, x.max()), "one max for the whole tensor"),
    ("softmax", "no max", lambda x: _sm(x, 0.0), "subtract each row's *max*"),
    ("softmax", "no max in float64", lambda x: _sm(x.double(), 0.0), "subtract each row's *max*"),
    ("softmax", "mean in float64", lambda x: _sm(x.double(), x.double().mean(-1, keepdim=True)), "max"),
    ("softmax", "min in float64", lambda x: _sm(x.double(), x.double().amin(-1, keepdim=True)), "max"),
    ("softmax", "max only when large", _shift_if_large, "underflowed"),
    ("softmax", "clamp", lambda x: _sm(x.clamp(-80, 80), 0.0), "clamping"),
    ("softmax", "dim 0", lambda x: torch.softmax(x, 0), "wrong axis"),
    ("softmax", "no keepdim", lambda x: torch.exp(x - x.amax(-1)) / torch.exp(x - x.amax(-1)).sum(-1),
     "keepdim=True"),
    ("softmax", "x -= max", _sub_inplace, "changed its input `x` in place"),
    ("softmax", "float16", lambda x: torch.softmax(x.half(), -1), "float16"),
    ("attention_weights", "no scale", lambda q, k: _weights(q, k, scale=1.0), "forgot the scale"),
    ("attention_weights", "d_k", lambda q, k: _weights(q, k, scale=q.shape[-1]), "d_k, not sqrt"),
    ("attention_weights", "dim=1", lambda q, k: _weights(q, k, dim=1), "wrong axis"),
    ("attention_weights", "dim=0", lambda q, k: _weights(q, k, dim=0), "batch axis"),
    ("attention_weights", "sqrt Tk", lambda q, k: _weights(q, k, scale=math.sqrt(k.shape[-2])), "number of keys"),
    ("attention_weights", "times sqrt", lambda q, k: _weights(q, k, scale=1 / math.sqrt(q.shape[-1])),
     "multiplied by sqrt"),
    ("attention_weights", "clipped scores", lambda q, k: torch.softmax(
        (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).clamp(-5, 5), -1), "values differ"),
    ("attention", "clipped scores", lambda q, k, v: torch.softmax(
        (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).clamp(-5, 5), -1) @ v, "values differ"),
    ("attention_weights", "scores", lambda q, k: q @ k.transpose(-2, -1), "rows should sum to 1"),
    ("attention_weights", "no_grad", lambda q, k: _weights(q, k).detach(), "cut off from autograd"),
    ("attention_weights", "query detached", lambda q, k: _weights(q.detach(), k), "no gradient reaches `q`"),
    ("attention", "weights", lambda q, k, v: _weights(q, k), "returned the weights"),
    ("attention", "keys", lambda q, k, v: _weights(q, k) @ k, "sum of the keys"),
    ("attention", "scale by Dv", lambda q, k, v: _weights(q, k, scale=math.sqrt(v.shape[-1])) @ v,
     "values' width"),
    ("attention", "no scale", lambda q, k, v: _weights(q, k, scale=1.0) @ v, "forgot the scale"),
    ("attention", "axis", lambda q, k, v: _weights(q, k, dim=-2) @ v, "wrong axis"),
    ("attention", "detach", lambda q, k, v: (_weights(q, k) @ v).detach(), "cut off"),
    # lesson 04
    ("self_attention", "sqrt(D)", lambda x, a, b, c: _sa(x, a, b, c, scale=math.sqrt(x.shape[-1])), "sqrt(D)"),
    ("self_attention", "sqrt(T)", lambda x, a, b, c: _sa(x, a, b, c, scale=math.sqrt(x.shape[-2])), "sqrt(T)"),
    ("self_attention", "axis", lambda x, a, b, c: _sa(x, a, b, c, dim=1), "wrong axis"),
    ("self_attention", "clipped scores", lambda x, a, b, c: torch.softmax(
        ((x @ a) @ (x @ b).transpose(-2, -1) / math.sqrt(b.shape[-1])).clamp(-5, 5), -1) @ (x @ c), "values differ"),
    ("self_attention", "w_q only", lambda x, a, b, c: ak.attention(x @ a, x @ a, x @ a)[0], "all with w_q"),
    ("self_attention", "swapped", lambda x, a, b, c: ak.attention(x @ b, x @ a, x @ c)[0], "swapped"),
    ("self_attention", "x values", lambda x, a, b, c: ak.attention(x @ a, x @ b, x)[0], "x itself as the values"),
    ("self_attention", "no scale", lambda x, a, b, c: _sa(x, a, b, c, scale=1.0), "forgot the scale"),
    ("self_attention", "causal", lambda x, a, b, c: ak.attention(x @ a, x @ b, x @ c,
                                                                 mask=ak.causal_mask(x.shape[1]))[0], "causal"),
    ("self_attention", "weights", lambda x, a, b, c: ak.attention(x @ a, x @ b, x @ c)[1], "weights @ V"),
    ("self_attention", "no_grad", lambda x, a, b, c: _sa(x, a, b, c).detach(), "cut off"),
    ("self_attention", "w_v detached", lambda x, a, b, c: _sa(x, a, b, c.detach()), "no gradient reaches `c`"),
    ("add_positions", "unchanged", lambda x: x, "unchanged"),
    ("add_positions", "times", lambda x: x * ak.sinusoidal_positions(x.shape[1], x.shape[2]), "multiplied"),
    ("add_positions", "off by one", lambda x: x + ak.sinusoidal_positions(x.shape[1] + 1, x.shape[2])[1:],
     "off by one"),
    ("add_positions", "swapped", lambda x: x + ak.sinusoidal_positions(x.shape[2], x.shape[1]),
     "sinusoidal_positions(T, D)"),
    ("add_positions", "table only", lambda x: ak.sinusoidal_positions(x.shape[1], x.shape[2]).expand_as(x),
     "only the table"),
    ("add_positions", "+=", _iadd_positions, "changed its input `x` in place"),
    ("add_positions", "detach", lambda x: x.detach() + ak.sinusoidal_positions(x.shape[1], x.shape[2]), "cut off"),
    # lesson 05
    ("split_heads", "no transpose", lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "without a transpose"),
    ("split_heads", "(Dh, H)", lambda x, h: x.reshape(x.shape[0], x.shape[1], -1, h).permute(0, 3, 1, 2),
     "wrong order"),
    ("split_heads", "(B, T, H, Dh)", lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1), "transpose(1, 2)"),
    ("split_heads", "detach", lambda x, h: check.lesson05._split_reference(x, h).detach(), "cut off"),
    ("merge_heads", "no transpose", lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without transposing"),
    ("merge_heads", "order", lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1),
     "concatenation order"),
    ("merge_heads", "view", lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1), "not contiguous"),
    ("merge_heads", "transpose_", _transpose_inplace_merge, "changed its input `x` in place"),
    # lesson 06
    ("scaled_scores", "no scale", lambda q, k: q @ k.transpose(-2, -1), "forgot the scale"),
    ("scaled_scores", "d_k", lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1], "instead of sqrt(d_k)"),
    ("scaled_scores", "Tq", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2]), "number of queries"),
    ("scaled_scores", "Tk", lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(k.shape[-2]), "number of keys"),
    ("scaled_scores", "clipped", lambda q, k: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).clamp(-5, 5),
     "values differ"),
    ("scaled_scores", "softmax", lambda q, k: _weights(q, k), "applied a softmax"),
    ("scaled_scores", "transposed", lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1]), "transposed"),
    ("scaled_scores", "no_grad", lambda q, k: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).detach(),
     "cut off"),
    ("softmax_entropy", "NaN", lambda w: -(w * w.log()).sum(-1), "0 * log(0)"),
    ("softmax_entropy", "sign", lambda w: torch.xlogy(w, w).sum(-1), "minus sign"),
    ("softmax_entropy", "bits", lambda w: -(torch.xlogy(w, w) / math.log(2)).sum(-1), "base 2"),
    ("softmax_entropy", "log10", lambda w: -(w * torch.log10(w.clamp_min(1e-30))).sum(-1), "base 10"),
    ("softmax_entropy", "mean", lambda w: -torch.xlogy(w, w).mean(-1), "averaged over the keys"),
    ("softmax_entropy", "all axes", lambda w: -torch.xlogy(w, w).sum(), "every axis"),
    ("softmax_entropy", "clamp_", _clamp_entropy, "changed its input `w` in place"),
    # lesson 07
    ("pre_norm_residual", "post-norm", lambda x, s, n: n(x + s(x)), "post-norm"),
    ("pre_norm_residual", "no residual", lambda x, s, n: s(n(x)), "dropped the residual"),
    ("pre_norm_residual", "normed residual", lambda x, s, n: n(x) + s(n(x)), "normalised x"),
    ("pre_norm_residual", "norm output", lambda x, s, n: x + n(s(x)), "sublayer's output"),
    ("pre_norm_residual", "fresh LayerNorm", lambda x, s, n: x + s(torch.nn.LayerNorm(x.shape[-1])(x)),
     "norm you were given"),
    ("pre_norm_residual", "no norm", lambda x, s, n: x + s(x), "left out the norm"),
    ("pre_norm_residual", "zeroed weights", _zero_and_bias, "changed the module `sublayer`"),
    ("pre_norm_residual", "eval()", lambda x, s, n: (n.eval(), x + s(n(x)))[1], "train/eval mode"),
    ("pre_norm_residual", "detach", lambda x, s, n: (x + s(n(x))).detach(), "cut off"),
    ("pre_norm_residual", "x detached", lambda x, s, n: x.detach() + s(n(x)), "gradient reaching `x` differs"),
    ("feed_forward", "no ReLU", lambda x, a, b: b(a(x)), "left out the ReLU"),
    ("feed_forward", "ReLU after", lambda x, a, b: torch.relu(b(torch.relu(a(x)))), "output too"),
    ("feed_forward", "residual", lambda x, a, b: x + b(torch.relu(a(x))), "residual"),
    ("feed_forward", "ReLU place", lambda x, a, b: torch.relu(b(a(x))), "wrong place"),
    ("feed_forward", "GELU", lambda x, a, b: b(F.gelu(a(x))), "GELU"),
    ("feed_forward", "no biases", lambda x, a, b: torch.relu(x @ a.weight.T) @ b.weight.T, "biases"),
    ("feed_forward", "no_grad", _no_grad_ffn, "cut off"),
    ("feed_forward", "ReLU6", lambda x, a, b: b(F.relu6(a(x))), "values differ"),
    ("feed_forward", "hardtanh", lambda x, a, b: b(F.hardtanh(a(x), 0.0, 6.0)), "values differ"),
    ("feed_forward", "NumPy round trip",
     lambda x, a, b: torch.from_numpy(b(torch.relu(a(x))).detach().numpy()), "cut off"),
    # lesson 08
    ("online_softmax_attention", "full softmax",
     lambda q, k, v, b: _weights(q, k) @ v, "full (Tq, Tk)"),
    ("online_softmax_attention", "SDPA", lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v),
     "scaled_dot_product_attention"),
    ("online_softmax_attention", "ak.attention", lambda q, k, v, b: ak.attention(q, k, v)[0], "ak.attention"),
    ("online_softmax_attention", "ak.memory_efficient_attention",
     lambda q, k, v, b: ak.memory_efficient_attention(q, k, v, block_size=b), "memory_efficient_attention"),
    ("online_softmax_attention", "one query at a time", lambda q, k, v, b: torch.cat(
        [_weights(q[..., i:i + 1, :], k) @ v for i in range(q.shape[-2])], dim=-2), "all"),
    ("online_softmax_attention", "scores concatenated", lambda q, k, v, b: torch.softmax(torch.cat(
        [q @ k[..., s:s + b, :].transpose(-2, -1) for s in range(0, k.shape[-2], b)], -1)
        / math.sqrt(q.shape[-1]), -1) @ v, "full (Tq, Tk)"),
    ("online_softmax_attention", "NumPy", lambda q, k, v, b: torch.from_numpy(
        torch.softmax(torch.from_numpy(q.numpy() @ k.numpy().swapaxes(-1, -2)) / math.sqrt(q.shape[-1]), -1)
        .numpy() @ v.numpy()), "NumPy"),
    ("online_softmax_attention", "a whole row per query, no matmul", _per_query_rows, "ending in all"),
    ("online_softmax_attention", "per-query row then .double()",
     lambda q, k, v, b: _per_query_rows(q.double(), k.double(), v.double(), b), "ending in all"),
    ("online_softmax_attention", "no max", lambda q, k, v, b: _online(q, k, v, b, "nomax"), "running max"),
    ("online_softmax_attention", "per-block max", lambda q, k, v, b: _online(q, k, v, b, "perblock"),
     "*running* max"),
    ("online_softmax_attention", "the first block's max kept", _first_block_max, "m = max(m, block max)"),
    ("online_softmax_attention", "max starts at 0", lambda q, k, v, b: _online(q, k, v, b, "start0"), "-inf"),
    ("online_softmax_attention", "no sum rescale",
     lambda q, k, v, b: check.lesson08._online_softmax(q, k, v, b, rescale_sum=False), "running SUM"),
    ("online_softmax_attention", "no output rescale",
     lambda q, k, v, b: check.lesson08._online_softmax(q, k, v, b, rescale_out=False), "running OUTPUT"),
    ("online_softmax_attention", "no division",
     lambda q, k, v, b: check.lesson08._online_softmax(q, k, v, b, divide=False), "final division"),
    ("sliding_window_mask", "float 0/1", lambda n, w: _window(n, w).float(), "masks nothing"),
    ("sliding_window_mask", "int", lambda n, w: _window(n, w).long(), "refuses an integer mask"),
    ("sliding_window_mask", "uint8", lambda n, w: _window(n, w).to(torch.uint8), "refuses an integer mask"),
    ("sliding_window_mask", "additive", lambda n, w: torch.zeros(n, n).masked_fill(~_window(n, w), -math.inf),
     "additive float mask"),
    ("sliding_window_mask", "flipped", lambda n, w: ~_window(n, w), "flipped"),
    ("sliding_window_mask", "< window", lambda n, w: (torch.arange(n)[None, :] <= torch.arange(n)[:, None])
     & (torch.arange(n)[:, None] - torch.arange(n)[None, :] < w), "off by one"),
    ("sliding_window_mask", "window + 1", lambda n, w: _window(n, w + 1), "off by one the other way"),
    ("sliding_window_mask", "not causal", lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs()
     <= w, "not causal"),
    ("sliding_window_mask", "transposed", lambda n, w: _window(n, w).T, "transposed"),
    ("sliding_window_mask", "causal only", lambda n, w: torch.ones(n, n, dtype=torch.bool).tril(),
     "left out the window"),
    ("cached_attention_step", "is_causal=True", lambda *a: _step(
        *a, attend=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)), "top-left"),
    ("cached_attention_step", "before append", check.lesson11._cache_step_before_append, "before appending"),
    ("cached_attention_step", "prepend", check.lesson11._cache_step_prepend, "front"),
    ("cached_attention_step", "old caches", lambda q, k, v, ck, cv: (_step(q, k, v, ck, cv)[0], ck, cv),
     "old caches"),
    ("cached_attention_step", "no scale", lambda *a: _step(
        *a, attend=lambda q, k, v: ak.attention(q, k, v, scale=1.0)[0]), "forgot the scale"),
    ("cached_attention_step", "new token only", lambda *a: _step(*a, attend=lambda q, k, v: v[..., -1:, :]),
     "new token alone"),
    ("cached_attention_step", "two results", lambda *a: _step(*a)[:2], "expected 3 results"),
    ("cached_attention_step", "resize_ the cache", _cat_into_cache, "changed its input `ck` in place"),
]


@pytest.mark.parametrize("name, label, answer, fragment", WRONG, ids=[f"{w[0]}-{w[1]}" for w in WRONG])
def test_wrong_answers_get_a_cross_and_their_hint(name, label, answer, fragment):
    verdict = getattr(check, name).evaluate(answer)
    assert verdict.status == "fail", f"{label!r} passed: {verdict}"
    assert fragment in verdict.message, verdict.message
    assert "\n" not in verdict.message


# --- odd but correct answers: (checker, label, answer) ------------------------------------------------

RIGHT = [
    ("bag_of_embeddings", "embedding_bag", lambda ids, t: F.embedding_bag(ids, t, mode="mean")),
    ("bag_of_embeddings", "one-hot", lambda ids, t: F.one_hot(ids, t.shape[0]).to(t.dtype).mean(1) @ t),
    ("bag_of_embeddings", "float64", lambda ids, t: t.double()[ids].mean(1)),
    ("concat_embeddings", "loop", lambda ids, t: torch.cat([t[ids[:, i]] for i in range(ids.shape[1])], -1)),
    ("concat_embeddings", "reshape", lambda ids, t: t[ids].reshape(ids.shape[0], -1)),
    ("additive_attention_weights", "einsum", lambda q, k, wq, wk, v: torch.softmax(torch.einsum(
        "bta,a->bt", torch.tanh(torch.einsum("bd,da->ba", q, wq)[:, None] + torch.einsum("btd,da->bta", k, wk)), v),
        -1)),
    ("last_state", "gather", lambda s, n: s.gather(1, (n - 1).view(-1, 1, 1).expand(-1, 1, s.shape[2])).squeeze(1)),
    ("last_state", "loop", lambda s, n: torch.stack([s[i, n[i] - 1] for i in range(len(n))])),
    ("token_accuracy", "python float", lambda p, t: float((p[t != -100] == t[t != -100]).float().mean())),
    ("token_accuracy", "sum / count", lambda p, t: ((p == t) & (t != -100)).sum() / (t != -100).sum()),
    ("token_accuracy", "numpy", lambda p, t: (p[t != -100] == t[t != -100]).double().mean().numpy()),
    ("token_accuracy", "shape (1,)", lambda p, t: (p[t != -100] == t[t != -100]).float().mean().reshape(1)),
    ("softmax", "torch.softmax", lambda x: torch.softmax(x, -1)),
    ("softmax", "F.softmax", lambda x: F.softmax(x, dim=-1)),
    ("softmax", "logsumexp", lambda x: torch.exp(x - torch.logsumexp(x, -1, keepdim=True))),
    ("softmax", "float64", lambda x: _sm(x.double(), x.double().amax(-1, keepdim=True))),
    ("softmax", "max().values", lambda x: _sm(x, x.max(dim=-1, keepdim=True).values)),
    ("softmax", "python loops", _loop_softmax),
    ("attention_weights", "einsum", lambda q, k: torch.einsum("bqd,bkd->bqk", q, k).div(q.shape[-1] ** 0.5)
     .softmax(-1)),
    ("attention_weights", "ak.attention", lambda q, k: ak.attention(q, k, k)[1]),
    ("attention_weights", "bmm + my softmax", lambda q, k: _sm(torch.bmm(q, k.mT) / math.sqrt(q.shape[-1]),
                                                                 (torch.bmm(q, k.mT) / math.sqrt(q.shape[-1]))
                                                                 .amax(-1, keepdim=True))),
    ("attention", "SDPA", lambda q, k, v: F.scaled_dot_product_attention(q, k, v)),
    ("attention", "printing", _printing_attention),
    ("attention", "float64", lambda q, k, v: _weights(q.double(), k.double()) @ v.double()),
    ("attention", "loop over queries", lambda q, k, v: torch.stack(
        [(_weights(q[:, i:i + 1], k) @ v)[:, 0]
         for i in range(q.shape[1])], dim=1)),
    ("self_attention", "ak.attention", lambda x, a, b, c: ak.attention(x @ a, x @ b, x @ c)[0]),
    ("self_attention", "einsum", lambda x, a, b, c: torch.softmax(
        torch.einsum("btd,bsd->bts", x @ a, x @ b) / math.sqrt(b.shape[1]), -1) @ (x @ c)),
    ("add_positions", "long table sliced", lambda x: x + ak.sinusoidal_positions(64, x.shape[2])[: x.shape[1]]),
    ("add_positions", "unsqueeze", lambda x: x + ak.sinusoidal_positions(x.shape[1], x.shape[2]).unsqueeze(0)),
    ("split_heads", "permute", lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).permute(0, 2, 1, 3)),
    ("split_heads", "contiguous copy", lambda x, h: check.lesson05._split_reference(x, h).contiguous()),
    ("merge_heads", "cat of heads", lambda x: torch.cat(x.unbind(1), -1)),
    ("merge_heads", "contiguous view", lambda x: x.transpose(1, 2).contiguous().view(x.shape[0], x.shape[2], -1)),
    ("scaled_scores", "einsum", lambda q, k: torch.einsum("bqd,bkd->bqk", q, k) / q.shape[-1] ** 0.5),
    ("scaled_scores", "scale first", lambda q, k: (q / math.sqrt(q.shape[-1])) @ k.mT),
    ("softmax_entropy", "entr", lambda w: torch.special.entr(w).sum(-1)),
    ("softmax_entropy", "Categorical", lambda w: torch.distributions.Categorical(probs=w).entropy()),
    ("softmax_entropy", "clamp_min", lambda w: -(w * w.clamp_min(1e-12).log()).sum(-1)),
    ("softmax_entropy", "nan_to_num", lambda w: -(w * w.log()).nan_to_num().sum(-1)),
    ("pre_norm_residual", "F.layer_norm with the norm's parameters",
     lambda x, s, n: x + s(F.layer_norm(x, x.shape[-1:], n.weight, n.bias, n.eps))),
    ("pre_norm_residual", "forward()", lambda x, s, n: x + s.forward(n.forward(x))),
    ("feed_forward", "clamp", lambda x, a, b: b(a(x).clamp(min=0))),
    ("feed_forward", "F.linear", lambda x, a, b: F.linear(F.relu(F.linear(x, a.weight, a.bias)), b.weight, b.bias)),
    ("feed_forward", "masked assignment", lambda x, a, b: (lambda h: (h.__setitem__(h < 0, 0.0), b(h))[1])(a(x))),
    ("online_softmax_attention", "a learner's loop", lambda q, k, v, b: _online(q, k, v, b)),
    ("online_softmax_attention", "float64",
     lambda q, k, v, b: _online(q.double(), k.double(), v.double(), b)),
    ("online_softmax_attention", "keys transposed once", _keys_transposed_once),
    ("online_softmax_attention", "one query at a time, keys in blocks", _one_query_in_blocks),
    ("sliding_window_mask", "tril & triu", lambda n, w: torch.ones(n, n, dtype=torch.bool).tril()
     & torch.ones(n, n, dtype=torch.bool).triu(-w)),
    ("sliding_window_mask", "loops", lambda n, w: torch.tensor([[i - w <= j <= i for j in range(n)]
                                                               for i in range(n)], dtype=torch.bool).reshape(n, n)),
    ("sliding_window_mask", "library masks", lambda n, w: ak.causal_mask(n) & ak.local_window_mask(n, w)),
    ("cached_attention_step", "a list for a tuple", lambda *a: list(_step(*a))),
    ("cached_attention_step", "SDPA without a mask", lambda *a: _step(
        *a, attend=lambda q, k, v: F.scaled_dot_product_attention(q, k, v))),
    ("cached_attention_step", "a generator", lambda *a: (t for t in _step(*a))),
]


@pytest.mark.parametrize("name, label, answer", RIGHT, ids=[f"{r[0]}-{r[1]}" for r in RIGHT])
def test_odd_but_correct_answers_pass(name, label, answer):
    verdict = getattr(check, name).evaluate(answer)
    assert verdict.passed, f"{label!r}: {verdict}"


def test_every_checker_of_lessons_01_to_08_is_covered_by_both_lists():
    names = {n for module in (check.lesson01, check.lesson02, check.lesson03, check.lesson04, check.lesson05,
                              check.lesson06, check.lesson07, check.lesson08) for n in module.__all__}
    names.add("cached_attention_step")  # lesson 08's exercise until the KV cache moved to notebook 11
    assert names == {w[0] for w in WRONG} == {r[0] for r in RIGHT}


@pytest.mark.parametrize("name", sorted({w[0] for w in WRONG}))
def test_each_named_mistake_is_recognised(name):
    checker = getattr(check, name)
    for hint, wrong in checker.mistakes.items():
        verdict = checker.evaluate(wrong)
        assert verdict.status == "fail" and hint in verdict.message, (hint, verdict.message)
