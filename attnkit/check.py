"""Exercise checkers: run a learner's function against the reference on many inputs.

Each checker prints exactly one line:

* ``✅ …`` when every generated case matches the reference;
* ``❌ …`` with a hint that says what differs (shape, row sums, which positions)
  and, where it recognises one, the typical mistake by name;
* ``✏️ …`` while the exercise stub (``raise NotImplementedError``) is untouched.

A learner's exception is reported in one line, never as a traceback.
Checkers are objects: ``check.softmax(fn)`` prints, ``check.softmax.evaluate(fn)``
returns the :class:`Verdict` (what the tests use).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._validate import shape_str
from .attention import attention as _attention
from .attention import softmax as _softmax

__all__: list[str] = []  # use as ak.check.<name>

ICONS = {"pass": "✅", "fail": "❌", "todo": "✏️"}


@dataclass(frozen=True)
class Verdict:
    status: str  # "pass", "fail" or "todo"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        return f"{ICONS[self.status]} {self.message}"


def _describe(args) -> str:
    parts = [shape_str(a.shape) if isinstance(a, torch.Tensor) else repr(a) for a in args]
    return "inputs of shape " + ", ".join(parts)


def _differences(got, expected, atol: float, rtol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``; otherwise what differs, in words."""
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} tensors, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            diff = _differences(g, e, atol, rtol)
            if diff:
                return f"item {i}: {diff}"
        return None
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"shape is {shape_str(got.shape)}, expected {shape_str(expected.shape)}"
    got = got.detach().to(expected.dtype)
    if expected.dtype == torch.bool:
        wrong = (got != expected).nonzero().tolist()
        return None if not wrong else f"wrong at positions {wrong[:3]}"
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if bad.any():
        return f"has inf/NaN at {bad.nonzero()[0].tolist()} where a finite value was expected"
    if torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
        return None
    err = (got - expected).abs().nan_to_num(0.0)
    where = torch.unravel_index(err.argmax(), err.shape)
    pos = [int(i) for i in where]
    return (
        f"values differ: largest gap {err.max().item():.3g} at position {pos} "
        f"(got {got[tuple(pos)].item():.4g}, expected {expected[tuple(pos)].item():.4g})"
    )


class Checker:
    """Compares a learner's function with ``reference`` on ``cases()``.

    ``mistakes`` maps a hint to a function that makes a typical mistake: when the
    learner's output matches one, the hint names it.
    """

    def __init__(self, name: str, reference: Callable, cases: Callable,
                 mistakes: dict[str, Callable] | None = None, atol: float = 1e-5,
                 rtol: float = 1e-4, extra_hint: Callable | None = None):
        self.name, self.reference, self.cases = name, reference, cases
        self.mistakes = mistakes or {}
        self.atol, self.rtol, self.extra_hint = atol, rtol, extra_hint

    def evaluate(self, fn: Callable) -> Verdict:
        if not callable(fn):
            return Verdict("fail", f"{self.name}: expected a function, got {type(fn).__name__}")
        cases = list(self.cases())
        for args in cases:
            try:
                got = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
            except NotImplementedError:
                return Verdict("todo", f"{self.name}: replace `raise NotImplementedError()` with your code")
            except Exception as exc:  # a learner's bug, explained in one line
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                return Verdict("fail", f"{self.name}: your code raised {type(exc).__name__}: "
                                       f"{first} (on {_describe(args)})")
            expected = self.reference(*args)
            diff = _differences(got, expected, self.atol, self.rtol)
            if diff is None:
                continue
            for hint, wrong in self.mistakes.items():
                try:
                    if _differences(got, wrong(*args), self.atol, self.rtol) is None:
                        return Verdict("fail", f"{self.name}: {hint} ({diff}, on {_describe(args)})")
                except Exception:
                    pass
            extra = self.extra_hint(got, expected, args) if self.extra_hint else None
            hint = f"; {extra}" if extra else ""
            return Verdict("fail", f"{self.name}: {diff} on {_describe(args)}{hint}")
        return Verdict("pass", f"{self.name}: matches the reference on all {len(cases)} test cases")

    def __call__(self, fn: Callable) -> None:
        print(self.evaluate(fn))


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _row_sum_hint(got, expected, args) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    sums = got.detach().sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        return f"rows should sum to 1 but yours sum to e.g. {sums.flatten()[0].item():.3g}"
    return None


# --- lesson 03: softmax and attention --------------------------------------------

def _softmax_cases():
    g = _seeded(3)
    yield (torch.randn(4, 6, generator=g),)
    yield (torch.randn(2, 3, 5, generator=g) * 3,)
    yield (torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]]),)
    yield (torch.randn(7, generator=g),)


softmax = Checker(
    "softmax", reference=lambda x: _softmax(x, dim=-1), cases=_softmax_cases,
    mistakes={
        "you normalised over the wrong axis: each row (dim=-1) should sum to 1":
            lambda x: torch.softmax(x, dim=0),
    },
    extra_hint=lambda got, exp, args: _row_sum_hint(got, exp, args)
    or ("huge logits overflow exp(): subtract each row's max first"
        if args[0].abs().max() > 100 else None),
)


def _qk_cases():
    g = _seeded(30)
    for b, tq, tk, d in ((1, 3, 3, 4), (2, 4, 6, 8), (3, 5, 2, 16), (1, 1, 7, 64)):
        yield torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g)


def _weights(q, k):
    return _attention(q, k, k)[1]


attention_weights = Checker(
    "attention_weights", reference=_weights, cases=_qk_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1), dim=-1),
        "you divided by d_k, not sqrt(d_k)":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], dim=-1),
        "softmax over the wrong axis: normalise over the keys (dim=-1), so each query's row sums to 1":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2),
    },
    extra_hint=_row_sum_hint,
)


def _qkv_cases():
    g = _seeded(31)
    for b, tq, tk, d, dv in ((1, 3, 3, 4, 4), (2, 4, 6, 8, 5), (3, 5, 2, 16, 3)):
        yield (torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g),
               torch.randn(b, tk, dv, generator=g))


attention = Checker(
    "attention", reference=lambda q, k, v: _attention(q, k, v)[0], cases=_qkv_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v,
        "softmax over the wrong axis: normalise over the keys (dim=-1)":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2) @ v,
        "you returned the weights, not the weighted sum of the values (weights @ value)":
            lambda q, k, v: _attention(q, k, v)[1],
    },
)

# --- lesson 01 checkers ---------------------------------------------------------------


def _ids_table_cases():
    g = _seeded(101)
    for b, t, v, d in ((2, 5, 10, 4), (3, 7, 20, 8), (1, 3, 6, 5), (4, 1, 9, 3)):
        yield torch.randint(0, v, (b, t), generator=g), torch.randn(v, d, generator=g)


bag_of_embeddings = Checker(
    "bag_of_embeddings", reference=lambda ids, table: table[ids].mean(dim=1), cases=_ids_table_cases,
    mistakes={
        "you averaged over the embedding features (dim=-1): average over the tokens, dim=1":
            lambda ids, table: table[ids].mean(dim=-1),
        "you summed the embeddings: a bag of embeddings here is their mean (divide by T)":
            lambda ids, table: table[ids].sum(dim=1),
        "you averaged over the batch (dim=0): each sentence keeps its own row":
            lambda ids, table: table[ids].mean(dim=0),
    },
)


concat_embeddings = Checker(
    "concat_embeddings", reference=lambda ids, table: table[ids].flatten(1), cases=_ids_table_cases,
    mistakes={
        "you flattened the whole batch into one vector: flatten from dim 1, keep (B, T * D)":
            lambda ids, table: table[ids].flatten(),
        "you interleaved the features (transposed to (B, D, T) first): put token 0's D "
        "features first, then token 1's":
            lambda ids, table: table[ids].transpose(1, 2).flatten(1),
        "you averaged the tokens: that is the order-blind bag, not the concatenation":
            lambda ids, table: table[ids].mean(dim=1),
    },
)


# --- lesson 02 checkers ---------------------------------------------------------------


def _additive_cases():
    g = _seeded(202)
    for b, t, dq, dk, a in ((2, 5, 4, 6, 3), (3, 7, 8, 8, 5), (1, 1, 3, 2, 4), (4, 9, 5, 10, 6)):
        yield (torch.randn(b, dq, generator=g), torch.randn(b, t, dk, generator=g),
               torch.randn(dq, a, generator=g), torch.randn(dk, a, generator=g),
               torch.randn(a, generator=g))


def _additive_ref(query, keys, w_query, w_key, v):
    scores = torch.tanh((query @ w_query).unsqueeze(1) + keys @ w_key) @ v   # (B, T)
    return torch.softmax(scores, dim=-1)


additive_attention_weights = Checker(
    "additive_attention_weights", reference=_additive_ref, cases=_additive_cases,
    mistakes={
        "you forgot the tanh: scores are v . tanh(W_q q + W_k k_j)":
            lambda q, k, wq, wk, v: torch.softmax(((q @ wq).unsqueeze(1) + k @ wk) @ v, dim=-1),
        "you returned the scores: apply a softmax over the keys to get weights":
            lambda q, k, wq, wk, v: torch.tanh((q @ wq).unsqueeze(1) + k @ wk) @ v,
        "softmax over the wrong axis: normalise over the keys (dim=-1), not the batch":
            lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) + k @ wk) @ v, dim=0),
        "you multiplied the projections: additive attention adds W_q q and W_k k_j":
            lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) * (k @ wk)) @ v, dim=-1),
    },
    extra_hint=_row_sum_hint,
)


def _last_state_cases():
    g = _seeded(203)
    for i, (b, t, d) in enumerate(((3, 6, 4), (4, 5, 2), (2, 8, 3), (5, 4, 6))):
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        if i == 0:
            lengths = lengths.clamp(max=t - 2)            # every row padded by 2 steps or more
        else:
            lengths[0] = t                                # one row without padding
        states = torch.randn(b, t, d, generator=g)  # padded steps hold junk, as an unpacked GRU's do
        yield states, lengths


def _last_state_ref(states, lengths):
    return states[torch.arange(states.shape[0]), lengths - 1]


last_state = Checker(
    "last_state", reference=_last_state_ref, cases=_last_state_cases,
    mistakes={
        "you took the last column states[:, -1]: for a padded row that is a padding step; "
        "use each row's own length":
            lambda s, n: s[:, -1],
        "off by one: the last real step of a row of length n is at index n - 1":
            lambda s, n: s[torch.arange(s.shape[0]), n.clamp(max=s.shape[1] - 1)],
        "you mean-pooled: that is a different summary (and it counts the padding steps)":
            lambda s, n: s.mean(dim=1),
        "you took the first step states[:, 0]":
            lambda s, n: s[:, 0],
    },
)


def _accuracy_cases():
    g = _seeded(204)
    for b, t in ((4, 6), (3, 9), (8, 5), (2, 12)):
        targets = torch.randint(0, 5, (b, t), generator=g)
        predictions = torch.where(torch.rand(b, t, generator=g) < 0.7, targets,
                                  torch.randint(0, 5, (b, t), generator=g))
        predictions[0] = targets[0]                        # one row entirely right
        targets[:, -2:] = -100                             # positions that are not scored
        predictions[1, -2:] = 0
        yield predictions, targets


def _token_accuracy_ref(predictions, targets):
    scored = targets != -100
    return (predictions[scored] == targets[scored]).float().mean()


class _ScalarChecker(Checker):
    """Accepts a Python number as well as a 0-d tensor from the learner."""

    def evaluate(self, fn):
        if not callable(fn):
            return super().evaluate(fn)

        def as_tensor(*args):
            out = fn(*args)
            is_number = isinstance(out, (int, float)) and not isinstance(out, bool)
            return torch.tensor(float(out)) if is_number else out

        return super().evaluate(as_tensor)


token_accuracy = _ScalarChecker(
    "token_accuracy", reference=_token_accuracy_ref, cases=_accuracy_cases,
    mistakes={
        "you also scored the ignored positions (target -100): leave them out of the count":
            lambda p, t: (p == t).float().mean(),
        "you scored whole sequences (a row counts only when every token is right): count tokens":
            lambda p, t: ((p == t) | (t == -100)).all(dim=1).float().mean(),
        "you counted the ignored positions as right: divide by the number of scored positions":
            lambda p, t: ((p == t) | (t == -100)).float().mean(),
    },
)


# --- lesson 04 checkers ---------------------------------------------------------------

def _self_attention_cases():
    g = _seeded(40)
    for b, t, d, dk in ((1, 4, 6, 6), (2, 5, 8, 8), (3, 3, 4, 4), (2, 6, 8, 4)):
        yield (torch.randn(b, t, d, generator=g), torch.randn(d, dk, generator=g) / math.sqrt(d),
               torch.randn(d, dk, generator=g) / math.sqrt(d), torch.randn(d, dk, generator=g) / math.sqrt(d))


def _self_attention_reference(x, w_q, w_k, w_v):
    return _attention(x @ w_q, x @ w_k, x @ w_v)[0]


self_attention = Checker(
    "self_attention", reference=_self_attention_reference, cases=_self_attention_cases,
    mistakes={
        "you projected Q, K and V all with w_q: each needs its own matrix (w_q, w_k, w_v)":
            lambda x, wq, wk, wv: _attention(x @ wq, x @ wq, x @ wq)[0],
        "you swapped queries and keys: the scores are Q @ K^T, with Q = x @ w_q":
            lambda x, wq, wk, wv: _attention(x @ wk, x @ wq, x @ wv)[0],
        "you used x itself as the values: project them too, V = x @ w_v":
            lambda x, wq, wk, wv: _attention(x @ wq, x @ wk, x)[0],
        "you used x itself as queries and keys: project them, Q = x @ w_q and K = x @ w_k":
            lambda x, wq, wk, wv: _attention(x, x, x @ wv)[0],
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda x, wq, wk, wv: torch.softmax((x @ wq) @ (x @ wk).transpose(-2, -1), -1) @ (x @ wv),
    },
)


def _positions_cases():
    g = _seeded(41)
    for b, t, d in ((1, 5, 8), (2, 7, 6), (3, 4, 16), (2, 10, 5)):
        yield (torch.randn(b, t, d, generator=g),)


def _sinusoidal(t, d):
    from .positional import sinusoidal_positions

    return sinusoidal_positions(t, d)


add_positions = Checker(
    "add_positions", reference=lambda x: x + _sinusoidal(x.shape[1], x.shape[2]), cases=_positions_cases,
    mistakes={
        "you returned the embeddings unchanged: add the positional table, or attention stays blind to order":
            lambda x: x,
        "you multiplied by the positions: add them (x + PE)":
            lambda x: x * _sinusoidal(x.shape[1], x.shape[2]),
        "off by one: the first position is 0, so use rows 0..T-1 of the table":
            lambda x: x + _sinusoidal(x.shape[1] + 1, x.shape[2])[1:],
    },
    extra_hint=lambda got, exp, args: (
        "the table is (T, D) = sinusoidal_positions(x.shape[1], x.shape[2]); it broadcasts over the batch"
        if isinstance(got, torch.Tensor) and got.shape != exp.shape else None),
)

# --- lesson 05 checkers ---------------------------------------------------------------

def _split_cases():
    g = _seeded(50)
    for b, t, d, h in ((1, 5, 8, 2), (2, 3, 12, 4), (3, 7, 6, 3), (2, 4, 16, 8)):
        yield torch.randn(b, t, d, generator=g), h


def _split_reference(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)  # (B, H, T, Dh)


def _split_shape_hint(got, expected, args):
    if not isinstance(got, torch.Tensor) or got.shape == expected.shape:
        return None
    B, H, T, Dh = expected.shape
    if tuple(got.shape) == (B, T, H, Dh):
        return "you have (B, T, H, Dh): add .transpose(1, 2) to bring the heads before the positions"
    return f"the result should be (B, H, T, Dh) = {shape_str(expected.shape)}"


split_heads = Checker(
    "split_heads", reference=_split_reference, cases=_split_cases,
    mistakes={
        "you reshaped straight to (B, H, T, Dh) without a transpose: that slices the sequence, not "
        "the features, so each 'head' mixes positions. View as (B, T, H, Dh), then .transpose(1, 2)":
            lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h),
        "you split the features in the wrong order (Dh, H): head h gets every H-th feature. "
        "View as (B, T, H, Dh), so head h gets features h*Dh .. (h+1)*Dh - 1":
            lambda x, h: x.reshape(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2),
    },
    extra_hint=_split_shape_hint,
)


def _merge_cases():
    g = _seeded(51)
    for b, h, t, dh in ((1, 2, 5, 4), (2, 4, 3, 3), (3, 3, 7, 2), (2, 8, 4, 2)):
        yield (torch.randn(b, h, t, dh, generator=g),)


def _merge_reference(x):
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).reshape(B, T, H * Dh)  # (B, T, D)


merge_heads = Checker(
    "merge_heads", reference=_merge_reference, cases=_merge_cases,
    mistakes={
        "you reshaped (B, H, T, Dh) to (B, T, D) without transposing back first: positions and heads "
        "get mixed. Do .transpose(1, 2) before the reshape":
            lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]),
        "wrong concatenation order: head 0's Dh features must come first, then head 1's ... "
        "(permute to (B, T, H, Dh), not (B, T, Dh, H))":
            lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1),
    },
    extra_hint=lambda got, exp, args: (
        "the result should be (B, T, H * Dh): transpose(1, 2), then reshape (not view: after a "
        "transpose the tensor is not contiguous)"
        if isinstance(got, torch.Tensor) and got.shape != exp.shape else None),
)

# --- lesson 06 checkers ---------------------------------------------------------------

def _scaled_scores_cases():
    g = _seeded(60)
    for b, tq, tk, d in ((1, 3, 5, 4), (2, 6, 6, 16), (3, 2, 7, 64), (1, 5, 4, 9)):
        yield torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g)


scaled_scores = Checker(
    "scaled_scores",
    reference=lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
    cases=_scaled_scores_cases,
    mistakes={
        "you forgot the scale: divide by sqrt(d_k), so the scores keep unit variance":
            lambda q, k: q @ k.transpose(-2, -1),
        "you divided by d_k instead of sqrt(d_k): the variance of q.k is d_k, so its std is sqrt(d_k)":
            lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1],
        "you divided by sqrt of the number of queries (q.shape[-2]); d_k is the width, q.shape[-1]":
            lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2]),
        "you multiplied by sqrt(d_k) instead of dividing":
            lambda q, k: q @ k.transpose(-2, -1) * math.sqrt(q.shape[-1]),
    },
)


def _entropy_cases():
    g = _seeded(61)
    yield (torch.softmax(torch.randn(4, 6, generator=g), -1),)
    yield (torch.softmax(3 * torch.randn(2, 3, 5, generator=g), -1),)
    yield (torch.full((2, 8), 1 / 8),)
    yield (torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]),)  # zeros: 0 * log 0 = 0


def _entropy_nan_hint(got, expected, args):
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.isnan(got).any():
        return "0 * log(0) gave NaN: treat it as 0 (torch.xlogy(w, w) or w * log(w.clamp_min(1e-12)))"
    return None


softmax_entropy = Checker(
    "softmax_entropy",
    reference=lambda w: -torch.xlogy(w, w).sum(-1),
    cases=_entropy_cases,
    mistakes={
        "you forgot the minus sign: entropy is -sum(w * log w), which is >= 0":
            lambda w: torch.xlogy(w, w).sum(-1),
        "you used log base 2 (bits); use the natural log so uniform weights give log(T) nats":
            lambda w: -(torch.xlogy(w, w) / math.log(2)).sum(-1),
        "you summed over the wrong axis: sum over the keys (dim=-1), one entropy per query":
            lambda w: -torch.xlogy(w, w).sum(0),
        "you summed over every axis: return one entropy per query row (sum over dim=-1 only)":
            lambda w: -torch.xlogy(w, w).sum(),
    },
    extra_hint=_entropy_nan_hint,
)

# --- lesson 07 checkers ---------------------------------------------------------------

def _frozen(module: torch.nn.Module, g: torch.Generator) -> torch.nn.Module:
    """``module`` with seeded random parameters and no gradients (checkers compare values)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            gain = 1.0 if isinstance(module, torch.nn.LayerNorm) and name == "weight" else 0.0
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + gain)
    return module.requires_grad_(False)


def _residual_cases():
    g = _seeded(70)
    for b, t, d in ((2, 3, 4), (1, 5, 8), (3, 2, 6)):
        x = torch.randn(b, t, d, generator=g) * 2 + 1
        yield x, _frozen(torch.nn.Linear(d, d), g), _frozen(torch.nn.LayerNorm(d), g)


pre_norm_residual = Checker(
    "pre_norm_residual",
    reference=lambda x, sublayer, norm: x + sublayer(norm(x)),
    cases=_residual_cases,
    mistakes={
        "that is post-norm, norm(x + sublayer(x)): pre-norm normalises the sublayer's INPUT "
        "and adds to the raw x":
            lambda x, sublayer, norm: norm(x + sublayer(x)),
        "you dropped the residual: return x + sublayer(norm(x)), not sublayer(norm(x))":
            lambda x, sublayer, norm: sublayer(norm(x)),
        "you added the normalised x; the residual path carries the raw x: x + sublayer(norm(x))":
            lambda x, sublayer, norm: norm(x) + sublayer(norm(x)),
        "you normalised the sublayer's output; pre-norm normalises its input: x + sublayer(norm(x))":
            lambda x, sublayer, norm: x + norm(sublayer(x)),
    },
)


def _ffn_cases():
    g = _seeded(71)
    for b, t, d, f in ((2, 3, 4, 8), (1, 5, 6, 12), (3, 2, 8, 32)):
        yield (torch.randn(b, t, d, generator=g), _frozen(torch.nn.Linear(d, f), g),
               _frozen(torch.nn.Linear(f, d), g))


feed_forward = Checker(
    "feed_forward",
    reference=lambda x, linear1, linear2: linear2(torch.relu(linear1(x))),
    cases=_ffn_cases,
    mistakes={
        "you left out the ReLU: two linear maps in a row are just one linear map":
            lambda x, linear1, linear2: linear2(linear1(x)),
        "you applied ReLU to the output too: the block ends with linear2, so outputs may be negative":
            lambda x, linear1, linear2: torch.relu(linear2(torch.relu(linear1(x)))),
        "you added the residual inside the block; the layer adds x itself: return linear2(relu(linear1(x)))":
            lambda x, linear1, linear2: x + linear2(torch.relu(linear1(x))),
        "ReLU in the wrong place: linear2(relu(linear1(x))), not relu(linear2(linear1(x)))":
            lambda x, linear1, linear2: torch.relu(linear2(linear1(x))),
    },
)

# --- lesson 08 checkers ---------------------------------------------------------------

def _online_softmax(query, key, value, block_size, rescale_sum=True, rescale_out=True, divide=True):
    """Attention over key blocks with a running max, sum and output (and optional mistakes)."""
    scale = 1.0 / math.sqrt(query.shape[-1])
    run_max = torch.full(query.shape[:-1] + (1,), -math.inf)  # (..., Tq, 1)
    run_sum = torch.zeros_like(run_max)  # (..., Tq, 1)
    run_out = torch.zeros(query.shape[:-1] + (value.shape[-1],))  # (..., Tq, Dv)
    for start in range(0, key.shape[-2], block_size):
        scores = query @ key[..., start:start + block_size, :].transpose(-2, -1) * scale  # (..., Tq, b)
        new_max = torch.maximum(run_max, scores.amax(-1, keepdim=True))
        correction = torch.exp(run_max - new_max)
        exp_scores = torch.exp(scores - new_max)
        run_sum = (correction if rescale_sum else 1.0) * run_sum + exp_scores.sum(-1, keepdim=True)
        run_out = ((correction if rescale_out else 1.0) * run_out
                   + exp_scores @ value[..., start:start + block_size, :])
        run_max = new_max
    return run_out / run_sum if divide else run_out


def _online_cases():
    g = _seeded(80)
    for shape_q, tk, dv, block in (((5, 4), 12, 3, 4), ((2, 3, 8), 10, 8, 3), ((1, 7, 16), 9, 5, 1),
                                   ((2, 2, 4, 8), 6, 4, 16), ((6, 4), 13, 2, 5)):
        d = shape_q[-1]
        query = 3 * torch.randn(*shape_q, generator=g)
        key = torch.randn(*shape_q[:-2], tk, d, generator=g)
        value = torch.randn(*shape_q[:-2], tk, dv, generator=g)
        yield query, key, value, block


online_softmax_attention = Checker(
    "online_softmax_attention",
    reference=lambda q, k, v, block_size: _attention(q, k, v)[0],
    cases=_online_cases,
    mistakes={
        "when the running max grows you must rescale the running SUM by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False),
        "when the running max grows you must rescale the running OUTPUT by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_out=False),
        "you never rescaled anything when the max changed: multiply the running sum and output "
        "by exp(old_max - new_max)":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False, rescale_out=False),
        "you forgot the final division of the running output by the running sum":
            lambda q, k, v, b: _online_softmax(q, k, v, b, divide=False),
        "you forgot the scale: multiply the scores by 1 / sqrt(d_k)":
            lambda q, k, v, b: _attention(q, k, v, scale=1.0)[0],
    },
)


def _sliding_reference(n, window):
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


def _sliding_cases():
    yield from ((6, 2), (5, 0), (8, 3), (4, 10), (10, 1), (1, 0))  # (n, window)


sliding_window_mask = Checker(
    "sliding_window_mask",
    reference=_sliding_reference,
    cases=_sliding_cases,
    mistakes={
        "off by one: a query must see itself AND the `window` keys before it (use i - j <= window, "
        "not i - j < window)":
            lambda n, w: (torch.arange(n)[None, :] <= torch.arange(n)[:, None])
            & (torch.arange(n)[:, None] - torch.arange(n)[None, :] < w),
        "off by one the other way: that lets a query see window + 1 keys before it":
            lambda n, w: _sliding_reference(n, w + 1),
        "not causal: a query may only look back (j <= i), never at the future":
            lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= w,
        "transposed: rows are queries i, columns keys j; the window looks back (j <= i), not ahead":
            lambda n, w: _sliding_reference(n, w).T,
        "the mask is flipped: True must mean 'may attend'":
            lambda n, w: ~_sliding_reference(n, w),
    },
)


def _cache_step(query, key, value, cache_key, cache_value):
    cache_key = torch.cat([cache_key, key], dim=-2)  # (B, H, t + 1, Dh)
    cache_value = torch.cat([cache_value, value], dim=-2)  # (B, H, t + 1, Dv)
    return _attention(query, cache_key, cache_value)[0], cache_key, cache_value


def _cache_step_before_append(query, key, value, cache_key, cache_value):
    out = _attention(query, cache_key, cache_value)[0]
    return out, torch.cat([cache_key, key], dim=-2), torch.cat([cache_value, value], dim=-2)


def _cache_step_prepend(query, key, value, cache_key, cache_value):
    cache_key = torch.cat([key, cache_key], dim=-2)
    cache_value = torch.cat([value, cache_value], dim=-2)
    return _attention(query, cache_key, cache_value)[0], cache_key, cache_value


def _cache_cases():
    g = _seeded(81)
    for b, h, t, d in ((1, 1, 3, 4), (2, 4, 5, 8), (1, 2, 1, 16), (3, 1, 7, 2)):
        yield (torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, 1, d, generator=g),
               torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, t, d, generator=g),
               torch.randn(b, h, t, d, generator=g))


cached_attention_step = Checker(
    "cached_attention_step",
    reference=_cache_step,
    cases=_cache_cases,
    mistakes={
        "you attended before appending: the new token must also see its own key and value, so "
        "append first, then attend":
            _cache_step_before_append,
        "you put the new key/value at the front: append them at the end (dim=-2), after the "
        "older tokens":
            _cache_step_prepend,
        "you returned the old caches: return the caches with the new key and value appended":
            lambda q, k, v, ck, cv: (_cache_step(q, k, v, ck, cv)[0], ck, cv),
        "you forgot the scale: divide the scores by sqrt(d_k)":
            lambda q, k, v, ck, cv: (_attention(q, torch.cat([ck, k], -2), torch.cat([cv, v], -2),
                                                scale=1.0)[0],
                                     torch.cat([ck, k], -2), torch.cat([cv, v], -2)),
    },
)
