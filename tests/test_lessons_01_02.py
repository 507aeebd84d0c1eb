"""Lessons 01 and 02: checkers, figures and explorer callbacks."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

import attnkit as ak


def stub(*args):
    raise NotImplementedError()


# --- lesson 01 --------------------------------------------------------------------------

@pytest.mark.parametrize("fn, status, fragment", [
    (lambda ids, t: t[ids].mean(1), "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda ids, t: t[ids].mean(-1), "fail", "over the embedding features"),
    (lambda ids, t: t[ids].sum(1), "fail", "you summed the embeddings"),
    (lambda ids, t: t[ids].mean(0), "fail", "averaged over the batch"),
    (lambda ids, t: t[ids].max(1).values, "fail", "values differ"),
])
def test_bag_of_embeddings_checker(fn, status, fragment):
    verdict = ak.check.bag_of_embeddings.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda ids, t: t[ids].flatten(1), "pass", "matches the reference"),
    (lambda ids, t: t[ids].reshape(ids.shape[0], -1), "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda ids, t: t[ids].flatten(), "fail", "flattened the whole batch"),
    (lambda ids, t: t[ids].transpose(1, 2).flatten(1), "fail", "interleaved"),
    (lambda ids, t: t[ids].mean(1), "fail", "order-blind bag"),
])
def test_concat_embeddings_checker(fn, status, fragment):
    verdict = ak.check.concat_embeddings.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


class Bag(torch.nn.Module):
    def __init__(self, vocab_size, n_classes):
        super().__init__()
        self.embed, self.head = torch.nn.Embedding(vocab_size, 4), torch.nn.Linear(4, n_classes)

    def forward(self, ids):
        return self.head(self.embed(ids).mean(1))


def test_draw_who_did_it_returns_figure_per_model():
    vocab = ak.corpus_vocab()
    torch.manual_seed(0)
    models = {"bag": Bag(len(vocab), len(ak.AGENTS)), "bag2": Bag(len(vocab), len(ak.AGENTS))}
    fig = ak.widgets.draw_who_did_it(models, vocab, "cat", "chases", "mouse")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:2] == pytest.approx(heights[2:])  # a bag gives the same answer for both orders
    with pytest.raises(ValueError, match="'zebra' is not one of"):
        ak.widgets.draw_who_did_it(models, vocab, "zebra", "bites", "man")
    with pytest.raises(ValueError, match="must differ"):
        ak.widgets.draw_who_did_it(models, vocab, "dog", "bites", "dog")


def test_who_did_it_explorer_has_text_standin():
    pytest.importorskip("ipywidgets")
    vocab = ak.corpus_vocab()
    explorer = ak.widgets.who_did_it_explorer({"bag": Bag(len(vocab), len(ak.AGENTS))}, vocab)
    assert "explorer" in repr(explorer).lower()


def test_plot_token_embeddings():
    ax = ak.plot.plot_token_embeddings(torch.randn(3, 5), ["a", "b", "c"], title="t")
    assert ax.get_title() == "t"
    with pytest.raises(ValueError, match="2 tokens for 3 embedding rows"):
        ak.plot.plot_token_embeddings(torch.randn(3, 5), ["a", "b"])
    plt.close("all")


# --- lesson 02 --------------------------------------------------------------------------

def additive(q, k, wq, wk, v):
    return torch.softmax(torch.tanh((q @ wq).unsqueeze(1) + k @ wk) @ v, dim=-1)


@pytest.mark.parametrize("fn, status, fragment", [
    (additive, "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda q, k, wq, wk, v: torch.softmax(((q @ wq).unsqueeze(1) + k @ wk) @ v, -1), "fail",
     "forgot the tanh"),
    (lambda q, k, wq, wk, v: torch.tanh((q @ wq).unsqueeze(1) + k @ wk) @ v, "fail", "returned the scores"),
    (lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) + k @ wk) @ v, 0), "fail",
     "wrong axis"),
    (lambda q, k, wq, wk, v: torch.softmax(torch.tanh((q @ wq).unsqueeze(1) * (k @ wk)) @ v, -1), "fail",
     "adds W_q q"),
    (lambda q, k, wq, wk, v: torch.softmax(torch.tanh(q @ wq + k @ wk) @ v, -1), "fail", "your code raised"),
])
def test_additive_attention_weights_checker(fn, status, fragment):
    verdict = ak.check.additive_attention_weights.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda s, n: s[torch.arange(s.shape[0]), n - 1], "pass", "matches the reference"),
    (lambda s, n: s.gather(1, (n - 1)[:, None, None].expand(-1, 1, s.shape[2])).squeeze(1), "pass",
     "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda s, n: s[:, -1], "fail", "last column"),
    (lambda s, n: s[torch.arange(s.shape[0]), n], "fail", "off by one"),
    (lambda s, n: s.mean(1), "fail", "mean-pooled"),
    (lambda s, n: s[:, 0], "fail", "first step"),
    (lambda s, n: s[-1], "fail", "shape is"),
])
def test_last_state_checker(fn, status, fragment):
    verdict = ak.check.last_state.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


def good_accuracy(p, t):
    scored = t != -100
    return (p[scored] == t[scored]).float().mean()


@pytest.mark.parametrize("fn, status, fragment", [
    (good_accuracy, "pass", "matches the reference"),
    (lambda p, t: good_accuracy(p, t).item(), "pass", "matches the reference"),
    (lambda p, t: ak.token_accuracy(p, t), "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda p, t: (p == t).float().mean(), "fail", "also scored the ignored positions"),
    (lambda p, t: ((p == t) | (t == -100)).all(dim=1).float().mean(), "fail", "whole sequences"),
    (lambda p, t: ((p == t) | (t == -100)).float().mean(), "fail", "counted the ignored positions as right"),
    (lambda p, t: (p == t).float().mean(dim=0), "fail", "shape is"),
    (lambda p, t: "high", "fail", "expected a tensor, got str"),
])
def test_token_accuracy_checker(fn, status, fragment):
    verdict = ak.check.token_accuracy.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


def test_draw_alignment_and_explorer():
    torch.manual_seed(0)
    model = ak.AttentionSeq2Seq(vocab_size=10, hidden=8)
    fig = ak.widgets.draw_alignment(model, length=6, seed=1)
    assert isinstance(fig, Figure)
    assert "/6 tokens right" in fig.axes[0].get_title()
    assert len(fig.axes[0].get_xticklabels()) == 6
    with pytest.raises(ValueError, match="no attention weights"):
        ak.widgets.draw_alignment(ak.FixedContextSeq2Seq(10, 8), length=4)
    with pytest.raises(ValueError, match="length must be at least 1"):
        ak.widgets.draw_alignment(model, length=0)
    pytest.importorskip("ipywidgets")
    assert "alignment explorer" in repr(ak.widgets.alignment_explorer(model)).lower()


def test_plot_accuracy_by_length():
    ax = ak.plot.plot_accuracy_by_length([5, 10, 15], {"a": [1, 0.5, 0.2], "b": [1, 1, 0.9]},
                                         train_range=(5, 10))
    assert len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match="'a' has 2 accuracies for 3 lengths"):
        ak.plot.plot_accuracy_by_length([5, 10, 15], {"a": [1, 0.5]})
    plt.close("all")


def test_plot_accuracy_by_length_several_runs_draw_mean_and_band():
    runs = [[1.0, 0.6, 0.2], [0.8, 0.4, 0.3], [0.9, 0.5, 0.1]]
    ax = ak.plot.plot_accuracy_by_length([5, 10, 15], {"seeds": runs, "one run": [1, 1, 0.9]})
    lines = ax.get_lines()
    assert len(lines) == 2
    assert lines[0].get_ydata().tolist() == pytest.approx([0.9, 0.5, 0.2])  # the mean over runs
    band = ax.collections[0].get_paths()[0].vertices[:, 1]                  # min-max band's outline
    assert min(band) == pytest.approx(0.1) and max(band) == pytest.approx(1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "seeds (mean, min–max of 3 runs)", "one run"]
    with pytest.raises(ValueError, match="run 1 of 'seeds' has 2 accuracies for 3 lengths"):
        ak.plot.plot_accuracy_by_length([5, 10, 15], {"seeds": [[1, 0.5, 0.2], [1, 0.5]]})
    with pytest.raises(ValueError, match="'seeds' mixes runs"):
        ak.plot.plot_accuracy_by_length([5, 10, 15], {"seeds": [[1, 0.5, 0.2], 0.5]})
    with pytest.raises(ValueError, match="non-empty dict"):
        ak.plot.plot_accuracy_by_length([5, 10, 15], {})
    plt.close("all")
