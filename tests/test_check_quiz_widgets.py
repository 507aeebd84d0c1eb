"""The exercise and quiz machinery, and lesson 03's explorer callback."""

import math

import pytest
import torch

import attnkit as ak
from attnkit.check import Checker


def good_weights(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)


def stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, status, fragment", [
    (good_weights, "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda q, k: torch.softmax(q @ k.transpose(-2, -1), dim=-1), "fail", "forgot the scale"),
    (lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], dim=-1), "fail", "d_k, not sqrt(d_k)"),
    (lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2), "fail",
     "wrong axis"),
    (lambda q, k: q @ k.transpose(-2, -1), "fail", "rows should sum to 1"),
    (lambda q, k: good_weights(q, k)[0], "fail", "shape is"),
    (lambda q, k: q @ k, "fail", "your code raised RuntimeError"),
    (lambda q, k: "weights", "fail", "expected a tensor, got str"),
    (lambda q, k: good_weights(q, k).detach(), "fail", "cut off from autograd"),
    (lambda q, k: good_weights(q, k).half(), "fail", "float16"),
    (lambda q, k: good_weights(q.double(), k.double()), "pass", "matches the reference"),
])
def test_attention_weights_checker_names_the_mistake(fn, status, fragment):
    verdict = ak.check.attention_weights.evaluate(fn)
    assert verdict.status == status
    assert fragment in verdict.message


def test_checker_prints_exactly_one_line(capsys):
    ak.check.attention_weights(lambda q, k: q @ k)  # raises inside: still one line, no traceback
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("❌") and "Traceback" not in out


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda x: torch.softmax(x, dim=-1), "pass", ""),
    (lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True), "fail", "subtract each row's *max*"),
    (lambda x: torch.exp(x - x.amin(-1, keepdim=True)) / torch.exp(x - x.amin(-1, keepdim=True)).sum(-1, True),
     "fail", "row's min"),
    (lambda x: torch.softmax(x, dim=0), "fail", "wrong axis"),
    (stub, "todo", ""),
])
def test_softmax_checker(fn, status, fragment):
    verdict = ak.check.softmax.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda q, k, v: ak.attention(q, k, v)[0], "pass", ""),
    (lambda q, k, v: ak.attention(q, k, v)[1], "fail", "returned the weights"),
    (lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v, "fail", "forgot the scale"),
])
def test_attention_checker(fn, status, fragment):
    verdict = ak.check.attention.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


def test_checker_compares_tuples_and_does_not_let_learners_mutate_inputs():
    def cases():
        yield (torch.ones(3),)
    checker = Checker("pair", lambda x: (x, x * 2), cases)
    assert checker.evaluate(lambda x: (x, x * 2)).passed
    assert "item 1" in checker.evaluate(lambda x: (x, x * 3)).message

    def mutating(x):
        x.add_(1.0)
        return (x - 1, (x - 1) * 2)
    verdict = checker.evaluate(mutating)  # right values, but the caller's x changed
    assert not verdict.passed and "changed its input `x` in place" in verdict.message


def test_checker_rejects_non_callables():
    assert "expected a function" in ak.check.softmax.evaluate(3).message


def test_quiz_reveal_and_text():
    q = ak.quiz.ask("Pick b", ["x", "y"], answer=1, explanation="Because.")
    assert q.reveal(1).startswith("✅") and q.reveal("a").startswith("❌") and q.reveal("y").startswith("✅")
    assert q.reveal().startswith("💡")
    assert "(a) x" in q.text() and "(b) y" in repr(q)
    bundle = q._repr_mimebundle_()
    assert bundle["text/plain"] == q.text()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_quiz_widget_button_reveals():
    q = ak.quiz.ask("Pick b", ["x", "y"], answer=1, explanation="Because.")
    box = q.widget()
    choices, button, verdict = box.children[1], box.children[2], box.children[3]
    choices.value = 1
    button.click()
    assert "✅" in verdict.value


def test_quiz_without_widgets(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_widgets)
    q = ak.quiz.Quiz("Pick b", ["x", "y"], answer=1, explanation="Because.")
    assert q.widget() is None
    assert q._repr_mimebundle_() == {"text/plain": q.text()}


def test_quiz_rejects_bad_answer_index():
    with pytest.raises(ValueError, match="2 options"):
        ak.quiz.ask("?", ["x", "y"], answer=2, explanation="")


def _lesson03_inputs():
    tokens = ["the", "cat", "sat"]
    keys = torch.tensor([[0.0, 1.0], [3.0, 0.0], [0.0, 3.0]])
    return tokens, keys, keys[1:2].clone()


def test_draw_attention_row_changes_with_beta():
    tokens, keys, query = _lesson03_inputs()
    low = ak.widgets.draw_attention_row(tokens, query, keys, 0, beta=0.1, query_labels=["who?"])
    high = ak.widgets.draw_attention_row(tokens, query, keys, 0, beta=10.0, query_labels=["who?"])
    heights_low = [p.get_height() for p in low.axes[0].patches]
    heights_high = [p.get_height() for p in high.axes[0].patches]
    assert abs(sum(heights_low) - 1) < 1e-6 and abs(sum(heights_high) - 1) < 1e-6
    assert max(heights_high) > 0.99 > max(heights_low)
    assert "who?" in high.axes[0].get_title()


def test_draw_attention_row_bad_index():
    tokens, keys, query = _lesson03_inputs()
    with pytest.raises(ValueError, match="query_index 5"):
        ak.widgets.draw_attention_row(tokens, query, keys, 5, query_labels=["who?"])


def test_attention_explorer_redraws_when_slider_moves():
    tokens, keys, query = _lesson03_inputs()
    explorer = ak.widgets.attention_explorer(tokens, keys, keys)
    assert "Attention explorer" in repr(explorer)
    controls = explorer.widget.children[0].children
    picker, slider = controls
    assert "β = 1.00" in explorer.widget.last_figure.axes[0].get_title()
    slider.value = 5.0
    picker.value = 2
    title = explorer.widget.last_figure.axes[0].get_title()
    assert "query 'sat'" in title and "β = 5.00" in title
    assert explorer._repr_mimebundle_()["text/plain"] == explorer.text


def test_plot_attention_labels_and_errors():
    ax = ak.plot_attention(torch.eye(2), ["a", "b"], ["c", "d"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="3 x_labels for 2"):
        ak.plot_attention(torch.eye(2), ["a", "b", "c"])
    with pytest.raises(ValueError, match="2-d"):
        ak.plot_attention(torch.ones(2, 2, 2))
