"""RoPE and ALiBi (lesson 09): attnkit.positional, lesson 09's model, task, figure, widget and checkers."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

import attnkit as ak
from attnkit import check


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- apply_rope -------------------------------------------------------------------------------

def rope_complex(x, positions, base=10000.0):
    """An independent formulation: pair (x_2i, x_2i+1) is the complex number x_2i + i x_2i+1,
    multiplied by e^{i p theta_i} (Su et al. 2021, section 3.2)."""
    D = x.shape[-1]
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], D // 2, 2).contiguous())  # (..., T, D/2)
    theta = torch.tensor([base ** (-2.0 * i / D) for i in range(D // 2)], dtype=torch.float64)
    p = torch.as_tensor(positions, dtype=torch.float64)[..., None]  # (..., T, 1)
    rotated = z * torch.polar(torch.ones_like(p * theta), p * theta)
    return torch.view_as_real(rotated).reshape(x.shape).to(x.dtype)


def rope_halves(x, positions, base=10000.0):
    """The half-split convention (GPT-NeoX, rotate_half): column i pairs with column i + D/2."""
    D = x.shape[-1]
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    angle = torch.as_tensor(positions, dtype=torch.float64)[..., None] * theta  # (T, D/2)
    cos = torch.cat((angle.cos(), angle.cos()), -1).to(x.dtype)
    sin = torch.cat((angle.sin(), angle.sin()), -1).to(x.dtype)
    rotate_half = torch.cat((-x[..., D // 2:], x[..., : D // 2]), -1)
    return x * cos + rotate_half * sin


@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 8), st.integers(-20, 200),
       st.sampled_from([10.0, 500.0, 10000.0, 1e6]))
def test_rope_equals_the_complex_formulation(batch, T, half_d, start, base):
    x = torch.randn(batch, T, 2 * half_d, dtype=torch.float64)
    positions = torch.arange(start, start + T)
    torch.testing.assert_close(ak.apply_rope(x, positions, base=base), rope_complex(x, positions, base))


def test_rope_hidden_style_cases_float32():
    g = torch.Generator().manual_seed(3)
    for shape in ((4, 2), (3, 5, 6), (2, 4, 7, 16), (1, 33, 64)):
        x = torch.randn(*shape, generator=g)
        positions = torch.randint(0, 5000, shape[-2:-1], generator=g)
        torch.testing.assert_close(ak.apply_rope(x, positions), rope_complex(x, positions), atol=2e-5, rtol=1e-5)


def test_rope_formula_by_hand():
    x = torch.tensor([[0.3, -1.2, 2.0, 0.5]])
    p, D, base = 7, 4, 10000.0
    expected = []
    for i in range(D // 2):
        a = p * base ** (-2 * i / D)
        x0, x1 = x[0, 2 * i].item(), x[0, 2 * i + 1].item()
        expected += [x0 * math.cos(a) - x1 * math.sin(a), x0 * math.sin(a) + x1 * math.cos(a)]
    torch.testing.assert_close(ak.apply_rope(x, [p])[0], torch.tensor(expected))


def test_rope_default_positions_keep_dtype_and_norms():
    x = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    out = ak.apply_rope(x)
    assert out.shape == x.shape and out.dtype == torch.float64
    torch.testing.assert_close(out, ak.apply_rope(x, torch.arange(6)))
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths
    torch.testing.assert_close(out[..., 0, :], x[..., 0, :])  # position 0 is not rotated


def test_rope_positions_broadcast_per_batch_row():
    x = torch.randn(2, 4, 6)
    positions = torch.tensor([[0, 1, 2, 3], [10, 11, 12, 13]])  # (B, T)
    out = ak.apply_rope(x, positions)
    torch.testing.assert_close(out[1], ak.apply_rope(x[1], torch.arange(10, 14)))


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 1000))
def test_rope_score_depends_only_on_the_offset(i, j, shift):
    g = torch.Generator().manual_seed(i * 7 + j)
    q, k = torch.randn(1, 16, generator=g, dtype=torch.float64), torch.randn(1, 16, generator=g, dtype=torch.float64)
    before = ak.apply_rope(q, [i]) @ ak.apply_rope(k, [j]).T
    after = ak.apply_rope(q, [i + shift]) @ ak.apply_rope(k, [j + shift]).T
    torch.testing.assert_close(before, after)


def test_half_split_is_the_interleaved_rope_of_a_permuted_vector():
    D = 8
    x, positions = torch.randn(5, D, dtype=torch.float64), torch.arange(3, 8)
    perm = torch.stack((torch.arange(D // 2), torch.arange(D // 2, D)), -1).flatten()  # 0, 4, 1, 5, ...
    inverse = perm.argsort()
    torch.testing.assert_close(rope_halves(x, positions), ak.apply_rope(x[:, perm], positions)[:, inverse])
    assert not torch.allclose(rope_halves(x, positions), ak.apply_rope(x, positions))


@pytest.mark.parametrize("args, error, fragment", [
    ((torch.randn(3, 5),), ValueError, "odd width D=5"),
    ((torch.randn(4),), ValueError, "at least 2 dimensions"),
    ((torch.arange(8).view(2, 4),), TypeError, "floating-point"),
    (([[1.0, 2.0]],), TypeError, "torch.Tensor"),
    ((torch.randn(3, 4), torch.arange(4)), ValueError, "positions of shape (4)"),
    ((torch.randn(3, 4), torch.tensor(2)), ValueError, "positions of shape ()"),
    ((torch.randn(3, 4), torch.tensor([True, False, True])), TypeError, "dtype torch.bool"),
    ((torch.randn(3, 4), [0.0, float("nan"), 1.0]), ValueError, "finite"),
    ((torch.randn(3, 4), "abc"), TypeError, "positions must be"),
])
def test_rope_refuses_bad_input(args, error, fragment):
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ak.apply_rope(*args)


@pytest.mark.parametrize("base", [0.0, -3.0, float("inf"), float("nan")])
def test_rope_refuses_bad_base(base):
    with pytest.raises(ValueError, match="base must be a positive finite number"):
        ak.apply_rope(torch.randn(2, 4), base=base)


def test_rope_refuses_non_number_base():
    with pytest.raises(TypeError, match="base must be a number"):
        ak.apply_rope(torch.randn(2, 4), base="10000")


# --- alibi_slopes and alibi_bias ----------------------------------------------------------------

def paper_slopes(n):
    """Press et al.'s reference code (github.com/ofirpress/attention_with_linear_biases), as published."""
    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + paper_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])


@pytest.mark.parametrize("num_heads", list(range(1, 33)) + [48, 64, 80])
def test_alibi_slopes_follow_the_paper(num_heads):
    got = ak.alibi_slopes(num_heads)
    assert got.shape == (num_heads,) and got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor(paper_slopes(num_heads), dtype=torch.float32))


def test_alibi_slopes_for_eight_heads_are_halves():
    torch.testing.assert_close(ak.alibi_slopes(8), torch.tensor([2.0 ** -(h + 1) for h in range(8)]))


@given(st.integers(1, 12), st.integers(0, 10))
def test_alibi_bias_is_minus_slope_times_distance(num_heads, T):
    bias = ak.alibi_bias(num_heads, T)
    assert bias.shape == (num_heads, T, T) and bias.dtype == torch.float32
    slopes = ak.alibi_slopes(num_heads)
    for h in range(num_heads):
        for i in range(T):
            for j in range(T):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i - j))
    assert not torch.signbit(bias.diagonal(dim1=-2, dim2=-1)).any()  # +0.0 on the diagonal, not -0.0


def test_alibi_bias_composes_with_a_causal_mask_like_sdpa():
    H, T = 4, 7
    q, k, v = torch.randn(2, H, T, 8), torch.randn(2, H, T, 8), torch.randn(2, H, T, 5)
    mask = ak.alibi_bias(H, T).masked_fill(~ak.causal_mask(T), float("-inf"))  # (H, T, T)
    ours, weights = ak.attention(q, k, v, mask=mask)
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs)
    assert (weights.triu(1) == 0).all()


def test_alibi_alone_prefers_near_keys():
    weights = ak.attention(torch.zeros(3, 5, 4), torch.zeros(3, 5, 4), torch.zeros(3, 5, 4),
                           mask=ak.alibi_bias(3, 5))[1]  # (H, T, T)
    row = weights[0, 2]
    assert row[2] > row[1] > row[0] and row[1] == pytest.approx(row[3].item())


@pytest.mark.parametrize("call, error", [
    (lambda: ak.alibi_slopes(0), ValueError),
    (lambda: ak.alibi_slopes(2.0), TypeError),
    (lambda: ak.alibi_bias(0, 4), ValueError),
    (lambda: ak.alibi_bias(2, -1), ValueError),
    (lambda: ak.alibi_bias(2, "4"), TypeError),
])
def test_alibi_refuses_bad_input(call, error):
    with pytest.raises(error, match="num_heads|seq_len"):
        call()


# --- the task, the model, accuracy by position --------------------------------------------------

def test_offset_lookup_targets():
    x, y = ak.offset_lookup_batch(4, 9, offset=3, vocab_size=7, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 9) and x.max() < 7
    assert (y[:, :3] == -100).all() and torch.equal(y[:, 3:], x[:, :-3])


@pytest.mark.parametrize("kwargs, error", [
    ({"length": 3, "offset": 3}, ValueError), ({"length": 5, "offset": 0}, ValueError),
    ({"length": 5, "vocab_size": 1}, ValueError), ({"length": 5, "generator": 3}, TypeError),
])
def test_offset_lookup_refuses_bad_input(kwargs, error):
    with pytest.raises(error):
        ak.offset_lookup_batch(2, **kwargs)


@pytest.mark.parametrize("scheme", ak.POSITION_SCHEMES)
def test_positions_model_is_causal_at_any_length(scheme):
    torch.manual_seed(0)
    model = ak.PositionsModel(12, scheme, d_model=16, num_heads=4, num_layers=2, max_len=6).eval()
    x = torch.randint(0, 12, (3, 20))
    with torch.no_grad():
        full = model(x, clamp_positions=True)  # (B, T, V)
        prefix = model(x[:, :9], clamp_positions=True)
    assert full.shape == (3, 20, 12)
    torch.testing.assert_close(prefix, full[:, :9])
    assert len(model.attn_weights) == 2 and model.attn_weights[0].shape == (3, 4, 9, 9)


@pytest.mark.parametrize("scheme", ["rope", "alibi"])
def test_rope_and_alibi_change_the_model_only_through_positions(scheme):
    """Same seed, same weights as the model without positions: equal at position 0, different later."""
    torch.manual_seed(1)
    plain = ak.PositionsModel(10, "none", d_model=16, num_heads=2).eval()
    torch.manual_seed(1)
    model = ak.PositionsModel(10, scheme, d_model=16, num_heads=2).eval()
    x = torch.randint(0, 10, (2, 6))
    with torch.no_grad():
        a, b = plain(x), model(x)
    torch.testing.assert_close(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 1:], b[:, 1:])


def test_learned_positions_refuse_long_inputs_unless_clamped():
    model = ak.PositionsModel(10, "learned", d_model=8, num_heads=2, max_len=4)
    with pytest.raises(ValueError, match="exceeds max_len=4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with torch.no_grad():
        out = model(torch.zeros(1, 6, dtype=torch.long), clamp_positions=True)
    assert out.shape == (1, 6, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"positions": "relative"}, ValueError, "positions must be one of"),
    ({"positions": "rope", "d_model": 12, "num_heads": 4}, ValueError, "even head width"),
    ({"positions": "none", "d_model": 10, "num_heads": 4}, ValueError, "not divisible"),
    ({"positions": "none", "vocab_size": 0}, ValueError, "vocab_size"),
])
def test_positions_model_refuses_bad_settings(kwargs, error, fragment):
    kwargs = {"vocab_size": 8, **kwargs}
    with pytest.raises(error, match=fragment):
        ak.PositionsModel(**kwargs)


def test_positions_model_refuses_bad_tokens():
    model = ak.PositionsModel(8, "alibi", d_model=8, num_heads=2)
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="0..7"):
        model(torch.full((1, 3), 8))


def test_training_is_seeded_and_accuracy_by_position_has_nan_where_no_target():
    a, la = ak.train_positions_model("rope", length=8, offset=1, steps=15, d_model=16, progress=False)
    b, lb = ak.train_positions_model("rope", length=8, offset=1, steps=15, d_model=16, progress=False)
    assert la == lb and len(la) == 15
    acc = ak.accuracy_by_position(a, 20, offset=2, batch_size=16)
    assert acc.shape == (20,) and acc[:2].isnan().all() and not acc[2:].isnan().any()
    with pytest.raises(TypeError, match="PositionsModel"):
        ak.accuracy_by_position(torch.nn.Linear(2, 2), 8)


# --- figure and widget --------------------------------------------------------------------------

def test_position_scores_shift_invariance():
    a, b = ak.widgets.position_scores(30, 30), ak.widgets.position_scores(130, 30)
    assert torch.allclose(a["rope"], b["rope"], atol=1e-5) and torch.allclose(a["alibi"], b["alibi"])
    assert (a["sinusoidal"] - b["sinusoidal"]).abs().max() > 0.1
    assert a["alibi"][0] - a["alibi"][4] == pytest.approx(4 * 0.25, abs=1e-5)
    with pytest.raises(ValueError, match="before position 0"):
        ak.widgets.position_scores(3, 5)
    with pytest.raises(ValueError, match="even"):
        ak.widgets.position_scores(5, 5, head_dim=5)


def test_draw_position_scores_and_explorer():
    fig = ak.widgets.draw_position_scores(shift=10, base=100.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "largest gap 0.000" in fig.axes[1].get_title() and "largest gap 0.000" in fig.axes[2].get_title()
    explorer = ak.widgets.position_scores_explorer()
    assert "explorer" in repr(explorer).lower()
    assert isinstance(explorer.widget.last_figure, Figure)


def test_plot_accuracy_by_position():
    acc = torch.tensor([[float("nan"), 0.5, 1.0], [float("nan"), 0.7, 0.9]])
    ax = ak.plot.plot_accuracy_by_position({"a": acc, "b": acc * 0.5}, train_len=2, chance=0.1)
    assert len(ax.collections) == 2  # one seed band per model
    assert list(ax.lines[0].get_xdata()) == [1, 2]  # the NaN position is skipped
    with pytest.raises(ValueError, match="seeds, positions"):
        ak.plot.plot_accuracy_by_position({"a": acc[0]}, train_len=2)
    with pytest.raises(TypeError, match="non-empty dict"):
        ak.plot.plot_accuracy_by_position({}, train_len=2)


# --- checkers -----------------------------------------------------------------------------------

def rope_with_mistake(kind):
    def fn(x, positions):
        D = x.shape[-1]
        i = torch.arange(D // 2, dtype=torch.float64)
        exponent = (i if kind == "exponent" else 2 * i) / D
        angle = torch.as_tensor(positions, dtype=torch.float64)[:, None] * 10000.0 ** -exponent
        if kind == "sign":
            angle = -angle
        cos, sin = angle.cos().float(), angle.sin().float()
        if kind == "halves":
            a, b = x[..., : D // 2], x[..., D // 2:]
            return torch.cat((a * cos - b * sin, a * sin + b * cos), -1)
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(-2)
    return fn


@pytest.mark.parametrize("fn, status, fragment", [
    (rope_with_mistake("right"), "pass", "matches the reference"),
    (rope_with_mistake("halves"), "fail", "rotate_half"),
    (rope_with_mistake("sign"), "fail", "rotated the wrong way"),
    (rope_with_mistake("exponent"), "fail", "base ** (-2i / D)"),
    (lambda x, p: ak.apply_rope(x), "fail", "ignored `positions`"),
    (lambda x, p: x, "fail", "values differ"),
    (lambda x, p: 1 / 0, "fail", "ZeroDivisionError"),
])
def test_rope_checker(fn, status, fragment):
    verdict = check.rope.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message, verdict.message


def test_rope_checker_sees_a_stub():
    def stub(x, positions):
        raise NotImplementedError()
    assert check.rope.evaluate(stub).status == "todo"


@pytest.mark.parametrize("fn, status, fragment", [
    (ak.alibi_slopes, "pass", "matches the reference"),
    (lambda n: [float(v) for v in paper_slopes(n)], "pass", "matches the reference"),
    (lambda n: ak.alibi_slopes(n).flip(0), "fail", "reverse order"),
    (lambda n: torch.tensor([2.0 ** (-8 * h / n) for h in range(n)]), "fail", "first slope is 1"),
    (lambda n: torch.tensor([2.0 ** (-8 * (h + 1) / n) for h in range(n)]), "fail", "not a power of two"),
    (lambda n: torch.tensor([2.0 ** -(h + 1) for h in range(n)]), "fail", "ratio is 1/2"),
])
def test_alibi_slopes_checker(fn, status, fragment):
    verdict = check.alibi_slopes.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message, verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda q, k: ak.apply_rope(q) @ ak.apply_rope(k).transpose(-2, -1) / math.sqrt(q.shape[-1]),
     "pass", "matches the reference"),
    (lambda q, k: ak.apply_rope(q) @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), "fail", "keys rotate too"),
    (lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), "fail", "rotated nothing"),
    (lambda q, k: ak.apply_rope(q) @ ak.apply_rope(k).transpose(-2, -1), "fail", "forgot the scale"),
])
def test_rope_scores_checker(fn, status, fragment):
    verdict = check.rope_scores.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message, verdict.message
