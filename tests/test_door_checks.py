"""Door checks found by trying attnkit adversarially: devices, dtypes, bool options, degenerate sizes.

Every refusal must name the values at fault; every case PyTorch answers must be answered too.
Devices are tested on ``meta`` (shapes without values): no GPU is needed to catch a tensor
built on the CPU inside a function, or a mask on another device than the scores.
"""

import math
import re
import time

import pytest
import torch
from torch import nn

import attnkit as ak


def _qkv(*shape, device="cpu", dtype=torch.float32):
    return tuple(torch.randn(*shape, dtype=dtype).to(device) for _ in range(3))


# --- devices: the meta device stands for any device that is not the CPU ------------------------

@pytest.mark.parametrize("name, call", [
    ("attention", lambda q, k, v: ak.attention(q, k, v)[0]),
    ("attention causal", lambda q, k, v: ak.attention(q, k, v, mask=ak.causal_mask(40).to("meta"))[0]),
    ("memory_efficient", lambda q, k, v: ak.memory_efficient_attention(q, k, v, block_size=16)),
    ("memory_efficient causal", lambda q, k, v: ak.memory_efficient_attention(q, k, v, causal=True,
                                                                              block_size=16)),
    ("local", lambda q, k, v: ak.local_attention(q, k, v, window=3)),
    ("block_sparse", lambda q, k, v: ak.block_sparse_attention(q, k, v, block_size=8)),
    ("block_sparse causal", lambda q, k, v: ak.block_sparse_attention(q, k, v, block_size=8, causal=True)),
])
def test_every_attention_runs_on_another_device(name, call):
    q, k, v = _qkv(2, 3, 40, 8, device="meta")
    out = call(q, k, v)
    assert out.device.type == "meta" and out.shape == (2, 3, 40, 8), name


@pytest.mark.parametrize("fn", [lambda *a, **kw: ak.attention(*a, **kw)[0], ak.memory_efficient_attention],
                         ids=["attention", "memory_efficient"])
def test_inputs_on_different_devices_are_refused(fn):
    q, k, v = _qkv(2, 5, 4)
    with pytest.raises(ValueError, match=r"cpu, meta, cpu"):
        fn(q, k.to("meta"), v)
    with pytest.raises(ValueError, match=r"meta, cpu, cpu"):
        fn(q.to("meta"), k, v)
    with pytest.raises(ValueError, match=r"mask is on meta but the scores are on cpu"):
        fn(q, k, v, mask=torch.ones(5, 5, dtype=torch.bool, device="meta"))
    with pytest.raises(ValueError, match=r"mask is on cpu but the scores are on meta"):
        fn(*(t.to("meta") for t in (q, k, v)), mask=torch.ones(5, 5, dtype=torch.bool))


def test_layers_refuse_inputs_of_another_dtype_or_device():
    mha = ak.MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    with pytest.raises(TypeError, match=r"query is torch.float64 on cpu but this layer's weights are "
                                        r"torch.float32 on cpu"):
        mha(x.double(), x.double(), x.double())
    with pytest.raises(TypeError, match=r"key is torch.float16"):
        mha(x, x.half(), x)
    with pytest.raises(TypeError, match=r"query is torch.float32 on meta"):
        mha(x.to("meta"), x.to("meta"), x.to("meta"))
    for norm_first in (False, True):  # pre-norm would hand x to LayerNorm first
        layer = ak.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first)
        with pytest.raises(TypeError, match=r"x is torch.bfloat16 on cpu but this layer's weights are "
                                            r"torch.float32"):
            layer(x.bfloat16())
    assert ak.MultiHeadAttention(8, 2).double()(x.double(), x.double(), x.double())[0].dtype == torch.float64


# --- bool options, numbers that only give NaN later ---------------------------------------------

BAD = [
    ("MHA bias='no'", lambda: ak.MultiHeadAttention(8, 2, bias="no"), TypeError, ["bias", "'no'"]),
    ("encoder bias='no'", lambda: ak.TransformerEncoderLayer(8, 2, bias="no"), TypeError, ["bias", "'no'"]),
    ("encoder norm_first='no'", lambda: ak.TransformerEncoderLayer(8, 2, norm_first="no"), TypeError,
     ["norm_first", "'no'"]),
    ("encoder norm_first=1", lambda: ak.TransformerEncoderLayer(8, 2, norm_first=1), TypeError,
     ["norm_first", "1"]),
    ("layer_norm_eps=-1", lambda: ak.TransformerEncoderLayer(8, 2, layer_norm_eps=-1), ValueError,
     ["layer_norm_eps", "-1"]),
    ("layer_norm_eps=nan", lambda: ak.TransformerEncoderLayer(8, 2, layer_norm_eps=math.nan), ValueError,
     ["layer_norm_eps", "nan"]),
    ("layer_norm_eps='1e-5'", lambda: ak.TransformerEncoderLayer(8, 2, layer_norm_eps="1e-5"), TypeError,
     ["layer_norm_eps"]),
    ("memory_efficient causal='yes'", lambda: ak.memory_efficient_attention(*_qkv(3, 4), causal="yes"),
     TypeError, ["causal", "'yes'"]),
    ("local return_weights='yes'", lambda: ak.local_attention(*_qkv(3, 4), window=1, return_weights="yes"),
     TypeError, ["return_weights", "'yes'"]),
    ("block_sparse causal='yes'", lambda: ak.block_sparse_attention(*_qkv(3, 4), block_size=2, causal="yes"),
     TypeError, ["causal", "'yes'"]),
    ("sinusoidal base=0", lambda: ak.sinusoidal_positions(4, 6, base=0), ValueError, ["base", "0"]),
    ("sinusoidal base=-2", lambda: ak.sinusoidal_positions(4, 6, base=-2.0), ValueError, ["base", "-2"]),
    ("sinusoidal base=nan", lambda: ak.sinusoidal_positions(4, 6, base=math.nan), ValueError, ["base", "nan"]),
    ("scale that requires grad", lambda: ak.attention(*_qkv(3, 4), scale=torch.tensor(0.5, requires_grad=True)),
     TypeError, ["scale", "requires grad"]),
    ("memory_efficient scale that requires grad", lambda: ak.memory_efficient_attention(
        *_qkv(3, 4), scale=torch.tensor(0.5, requires_grad=True)), TypeError, ["scale", "requires grad"]),
    ("KVCache float64 key", lambda: ak.KVCache(1, 1, 2, 4, 3).update(
        0, torch.zeros(1, 2, 1, 3, dtype=torch.float64), torch.zeros(1, 2, 1, 3)), TypeError,
     ["key is torch.float64", "holds torch.float32"]),
    ("KVCache int64 value", lambda: ak.KVCache(1, 1, 2, 4, 3).update(
        0, torch.zeros(1, 2, 1, 3), torch.zeros(1, 2, 1, 3, dtype=torch.long)), TypeError,
     ["value is torch.int64", "holds torch.float32"]),
]


@pytest.mark.parametrize("what, call, error, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_what_is_wrong(what, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{what}: {fragment!r} not in {info.value}"


def test_a_tensor_scale_without_grad_still_works():
    q, k, v = _qkv(3, 4)
    assert torch.equal(ak.attention(q, k, v, scale=torch.tensor(0.5))[0], ak.attention(q, k, v, scale=0.5)[0])


# --- degenerate sizes --------------------------------------------------------------------------

def test_softmax_of_an_empty_axis_is_empty_like_torch():
    x = torch.zeros(3, 0, requires_grad=True)
    out = ak.softmax(x)
    assert out.shape == torch.softmax(x, -1).shape == (3, 0)
    assert ak.softmax(torch.zeros(0, 4), dim=0).shape == (0, 4)


@pytest.mark.parametrize("tq, tk", [(0, 5), (3, 0), (0, 0)])
def test_memory_efficient_empty_inputs_keep_the_graph(tq, tk):
    q = torch.randn(2, tq, 4, requires_grad=True)
    k = torch.randn(2, tk, 4, requires_grad=True)
    v = torch.randn(2, tk, 3, requires_grad=True)
    out = ak.memory_efficient_attention(q, k, v)
    assert out.shape == (2, tq, 3) and (out == 0).all()
    out.sum().backward()  # SDPA and ak.attention allow this; so must we
    assert q.grad.shape == q.shape and (q.grad == 0).all()
    assert ak.memory_efficient_attention(q, k, v, causal=True).shape == (2, tq, 3)


def test_local_window_far_beyond_the_length_costs_nothing_more():
    q, k, v = _qkv(1, 10, 4)
    start = time.perf_counter()
    out = ak.local_attention(q, k, v, window=5 * 10**6)  # used to allocate for the window: 2 GB
    assert time.perf_counter() - start < 5.0
    torch.testing.assert_close(out, ak.attention(q, k, v)[0], atol=1e-6, rtol=1e-5)
    out, banded = ak.local_attention(q, k, v, window=12, return_weights=True)
    assert banded.shape == (1, 10, 25)  # the banded layout keeps its documented width
    assert (banded[..., :3] == 0).all() and torch.allclose(banded.sum(-1), torch.ones(1, 10))


# --- from_torch copies the mode -----------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
def test_from_torch_copies_train_or_eval_mode(training):
    mha = nn.MultiheadAttention(8, 2, batch_first=True).train(training)
    assert ak.MultiHeadAttention.from_torch(mha).training is training
    enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True).train(training)
    ours = ak.TransformerEncoderLayer.from_torch(enc)
    assert all(m.training is training for m in ours.modules())


# --- TinyLM.generate ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return ak.TinyLM(vocab_size=11, d_model=16, num_heads=2, num_layers=1, max_len=32)


@pytest.mark.parametrize("temperature, error, fragment", [
    (math.nan, ValueError, "nan"), (math.inf, ValueError, "inf"), (-0.5, ValueError, "-0.5"),
    ("hot", TypeError, "'hot'"),
])
def test_generate_refuses_bad_temperatures(lm, temperature, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        lm.generate(torch.tensor([[1, 2]]), 3, temperature=temperature)


def test_generate_with_a_tiny_temperature_is_greedy(lm):
    prompt = torch.tensor([[1, 2, 3]])
    greedy = lm.generate(prompt, 6)
    for temperature in (1e-30, 1e-300, 5e-324):
        sampled = lm.generate(prompt, 6, temperature=temperature, generator=torch.Generator().manual_seed(0))
        assert torch.equal(sampled, greedy), temperature


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.bool, torch.float32])
def test_generate_refuses_prompts_of_other_dtypes(lm, dtype):
    with pytest.raises(TypeError, match=re.escape(str(dtype))):
        lm.generate(torch.tensor([[1, 2]]).to(dtype), 3)


@pytest.mark.parametrize("training", [True, False])
def test_generate_restores_the_mode_even_after_an_error(lm, monkeypatch, training):
    lm.train(training)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lm, "_generate", broken)
    with pytest.raises(RuntimeError, match="boom"):
        lm.generate(torch.tensor([[1, 2]]), 3)
    assert lm.training is training
    monkeypatch.undo()
    lm.generate(torch.tensor([[1, 2]]), 2)
    assert lm.training is training
    lm.eval()


# --- quiz ---------------------------------------------------------------------------------------

def test_the_printed_fallback_call_works_as_written():
    q = ak.quiz.ask("Which is even?", ["3", "4", "5"], answer=1, explanation="4 = 2 x 2.")
    call = re.search(r"run (ak\.quiz\.reveal\(\d+, 'a'\))", q.text()).group(1)
    namespace = {"ak": ak}  # what a lesson has after `import attnkit as ak`
    verdict = eval(call, namespace)
    assert verdict == q.reveal("a") and verdict.startswith("❌")
    assert repr(verdict) == str(verdict)  # shows without quotes as a cell's last expression
    assert eval(call.replace("'a'", "'b'"), namespace).startswith("✅")
    assert ak.quiz.reveal(q.number).startswith("💡")


def test_asking_the_same_question_again_keeps_its_number():
    first = ak.quiz.ask("Same question?", ["yes", "no"], answer=0, explanation="")
    again = ak.quiz.ask("Same question?", ["yes", "no"], answer=0, explanation="")
    other = ak.quiz.ask("Another question?", ["yes", "no"], answer=1, explanation="")
    assert first.number == again.number != other.number
    assert ak.quiz.reveal(other.number, "b").startswith("✅")


def test_quiz_with_many_options():
    options = [f"option {i}" for i in range(12)]
    q = ak.quiz.ask("Pick the last", options, answer=11, explanation="It is (l).")
    assert "(l) option 11" in q.text()
    assert q.reveal("l").startswith("✅") and q.reveal(11).startswith("✅")
    with pytest.raises(ValueError, match="27"):
        ak.quiz.ask("Too many", [str(i) for i in range(27)], answer=0, explanation="")


@pytest.mark.parametrize("answer, error, fragment", [
    (1.0, TypeError, "1.0"), ("b", TypeError, "'b'"), (True, TypeError, "True"), (3, ValueError, "3"),
])
def test_quiz_answer_must_be_an_option_index(answer, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        ak.quiz.ask("?", ["x", "y", "z"], answer=answer, explanation="")


@pytest.mark.parametrize("choice, error, fragment", [
    ("e", ValueError, "'e'"), ("maybe", ValueError, "'maybe'"), (3, ValueError, "3"), (-1, ValueError, "-1"),
    (1.5, TypeError, "1.5"),
])
def test_reveal_refuses_a_choice_that_is_not_an_option(choice, error, fragment):
    q = ak.quiz.ask("?", ["x", "y", "z"], answer=0, explanation="")
    with pytest.raises(error, match=re.escape(fragment)):
        q.reveal(choice)


def test_reveal_refuses_an_unknown_question_number():
    with pytest.raises(ValueError, match="no question 100000"):
        ak.quiz.reveal(100000, "a")
    with pytest.raises(TypeError, match="'1'"):
        ak.quiz.reveal("1", "a")


# --- explorers take what ak.attention takes -------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda t: t.requires_grad_(True), lambda t: t.bfloat16(), lambda t: t.half(), lambda t: t.double(),
], ids=["requires_grad", "bfloat16", "float16", "float64"])
def test_explorers_take_what_attention_takes(make):
    tokens = ["the", "cat", "sat"]
    x = make(torch.randn(3, 4))
    fig = ak.widgets.draw_attention_row(tokens, x, x)
    assert fig.axes
    assert "Attention explorer" in repr(ak.widgets.attention_explorer(tokens, x, x))
    weights = make(torch.softmax(torch.randn(3, 3), -1))
    assert ak.widgets.draw_self_attention_row(weights, tokens, 1).axes
    assert "Self-attention" in repr(ak.widgets.self_attention_explorer(weights, tokens))
    maps = make(torch.softmax(torch.randn(1, 2, 3, 3), -1))
    assert ak.widgets.draw_head_attention(maps, tokens, 0, 1).axes
    assert "Head explorer" in repr(ak.widgets.head_explorer(maps, tokens))
    assert ak.widgets.draw_encoder_attention([maps], [tokens], [tokens]).axes


def test_explorers_say_how_to_pick_one_example_of_a_batch():
    tokens = ["the", "cat", "sat"]
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=re.escape("(2, 3, 4)") + ".*query\\[0\\]"):
        ak.widgets.draw_attention_row(tokens, x, x)
    with pytest.raises(ValueError, match=re.escape("weights[0]")):
        ak.widgets.draw_self_attention_row(torch.rand(2, 3, 3), tokens)
    with pytest.raises(ValueError, match=re.escape("weights[0]")):
        ak.widgets.head_explorer(torch.rand(2, 1, 2, 3, 3), tokens)
