"""Checkers for lesson 02: the fixed-context bottleneck (used as ``ak.check.<name>``)."""

from __future__ import annotations

import torch

from ._core import Case, Checker, ScalarChecker, _row_sum_hint, _seeded

__all__ = ["additive_attention_weights", "last_state", "token_accuracy"]


def _additive_cases():
    g = _seeded(202)
    # (B, T, Dq, Dk, A); one case has B == T > 1, where a missing time axis broadcasts silently
    for b, t, dq, dk, a in ((2, 5, 4, 6, 3), (3, 7, 8, 8, 5), (1, 1, 3, 2, 4), (4, 9, 5, 10, 6), (3, 3, 4, 5, 2)):
        yield (torch.randn(b, dq, generator=g), torch.randn(b, t, dk, generator=g),
               torch.randn(dq, a, generator=g), torch.randn(dk, a, generator=g),
               torch.randn(a, generator=g))


_TIME_AXIS = ("the query has no time axis: (query @ w_query) is (B, A); .unsqueeze(1) makes it (B, 1, A), "
              "which broadcasts against keys @ w_key (B, T, A)")


def _additive_scores(q, k, wq, wk, v, act=torch.tanh):
    return act((q @ wq).unsqueeze(1) + k @ wk) @ v   # (B, T)


def _additive_ref(query, keys, w_query, w_key, v):
    return torch.softmax(_additive_scores(query, keys, w_query, w_key, v), dim=-1)


additive_attention_weights = Checker(
    "additive_attention_weights", reference=_additive_ref, cases=_additive_cases,
    mistakes={
        "you forgot the tanh: scores are v . tanh(W_q q + W_k k_j)":
            lambda q, k, wq, wk, v: torch.softmax(((q @ wq).unsqueeze(1) + k @ wk) @ v, dim=-1),
        "you returned the scores: apply a softmax over the keys to get weights":
            lambda q, k, wq, wk, v: _additive_scores(q, k, wq, wk, v),
        "softmax over the wrong axis: normalise over the keys (dim=-1), not the batch":
            lambda q, k, wq, wk, v: torch.softmax(_additive_scores(q, k, wq, wk, v), dim=0),
        "you multiplied the projections: additive attention adds W_q q and W_k k_j":
            lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) * (k @ wk)) @ v, dim=-1),
        "you summed the tanh features instead of taking their dot product with v":
            lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) + k @ wk).sum(-1), dim=-1),
        _TIME_AXIS:
            lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq) + k @ wk) @ v, dim=-1),
    },
    extra_hint=_row_sum_hint, grads=True,
    error_hints={"must match the size": _TIME_AXIS},
)


def _last_state_cases():
    g = _seeded(203)
    for i, (b, t, d) in enumerate(((3, 6, 4), (4, 5, 2), (2, 8, 3), (5, 4, 6))):
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        if i == 0:
            lengths = lengths.clamp(max=t - 2)            # every row padded by 2 steps or more
        else:
            lengths[0] = t                                # one row without padding
        lengths[-1] = 1                                   # and one row of a single step
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
        "you used the longest length for every row: each row has its own length":
            lambda s, n: s[:, int(n.max()) - 1],
    },
    error_hints={"out of bounds": "off by one? the last real step of a row of length n is at index n - 1"},
    grads=True,
)


def _accuracy_cases():
    g = _seeded(204)
    for i, (b, t) in enumerate(((4, 6), (3, 9), (8, 5), (2, 12), (5, 7))):
        targets = torch.randint(0, 5, (b, t), generator=g)
        predictions = torch.where(torch.rand(b, t, generator=g) < 0.7, targets,
                                  torch.randint(0, 5, (b, t), generator=g))
        predictions[0] = targets[0]                        # one row entirely right
        if i == 3:
            yield Case(predictions, targets, hint="here no position is ignored")
            continue
        # ignored positions (-100) anywhere, a different number in each row, so that the mean over
        # all scored tokens (micro) and the mean of per-row accuracies (macro) differ
        ignored = torch.rand(b, t, generator=g) < torch.linspace(0.0, 0.6, b)[:, None]
        ignored[0, :] = False
        ignored[1, 1:] = True                              # a row with a single scored token...
        if i == 4:
            ignored[-1, :] = True                          # ...and one row with none
        targets[ignored] = -100
        yield Case(predictions, targets, hint="score exactly the positions whose target is not -100 (they can "
                                               "be anywhere), each token once: correct tokens / scored tokens")


def _token_accuracy_ref(predictions, targets):
    scored = targets != -100
    return (predictions[scored] == targets[scored]).float().mean()


token_accuracy = ScalarChecker(
    "token_accuracy", reference=_token_accuracy_ref, cases=_accuracy_cases,
    mistakes={
        "you also scored the ignored positions (target -100): leave them out of the count":
            lambda p, t: (p == t).float().mean(),
        "you scored whole sequences (a row counts only when every token is right): count tokens":
            lambda p, t: ((p == t) | (t == -100)).all(dim=1).float().mean(),
        "you counted the ignored positions as right: divide by the number of scored positions":
            lambda p, t: ((p == t) | (t == -100)).float().mean(),
        "you averaged per-row accuracies (macro): rows with more scored tokens must weigh more; "
        "divide all correct tokens by all scored tokens":
            lambda p, t: torch.stack([((r == s)[s != -100]).float().mean() for r, s in zip(p, t)
                                      if (s != -100).any()]).mean(),
        "you returned a percentage: return a fraction between 0 and 1":
            lambda p, t: 100 * _token_accuracy_ref(p, t),
    },
)
