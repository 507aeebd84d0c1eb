"""TransformerDecoderLayer proven equal to PyTorch's, and the models built from it (lesson 07)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import attnkit as ak


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one thread is faster, and two threads on a busy machine can stall in OpenMP waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

# --- the layer against nn.TransformerDecoderLayer --------------------------------------------


def _pair(norm_first, activation, dtype, seed=0, d_model=16, heads=4, ff=24):
    torch.manual_seed(seed)
    theirs = nn.TransformerDecoderLayer(d_model, heads, dim_feedforward=ff, dropout=0.0, activation=activation,
                                        norm_first=norm_first, batch_first=True).to(dtype)
    return ak.TransformerDecoderLayer.from_torch(theirs), theirs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("masks", ["causal", "causal+padding", "none", "causal+cross"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch(norm_first, activation, masks, dtype):
    ours, theirs = _pair(norm_first, activation, dtype)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 7, 16, generator=g).to(dtype)
    memory = torch.randn(3, 5, 16, generator=g).to(dtype)
    causal = masks != "none"
    self_keep = ak.causal_mask(7) if causal else None
    self_mask = cross_keep = None
    if masks == "causal+padding":  # per-example key padding on the decoder side, shared by queries
        self_mask = ak.padding_mask([7, 5, 6])[:, None, :].expand(3, 7, 7)  # (B, T, T)
        self_keep = self_keep & self_mask
    if masks == "causal+cross":
        cross_keep = torch.rand(7, 5, generator=g) > 0.4
        cross_keep[:, 0] = True  # PyTorch's module gives NaN on a fully masked row
    theirs_self = None if self_keep is None else ~self_keep
    if theirs_self is not None and theirs_self.dim() == 3:
        theirs_self = theirs_self.repeat_interleave(4, dim=0)  # PyTorch wants (B * H, T, T)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    m1, m2 = memory.clone().requires_grad_(), memory.clone().requires_grad_()
    out = ours(x1, m1, causal=causal, self_mask=self_mask, cross_mask=cross_keep)
    ref = theirs(x2, m2, tgt_mask=theirs_self, memory_mask=None if cross_keep is None else ~cross_keep)
    tol = {} if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out, ref, **tol)
    upstream = torch.randn(ref.shape, generator=g).to(dtype)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **tol)
    torch.testing.assert_close(m1.grad, m2.grad, **tol)
    torch.testing.assert_close(ours.linear1.weight.grad, theirs.linear1.weight.grad, **tol)
    torch.testing.assert_close(ours.norm3.weight.grad, theirs.norm3.weight.grad, **tol)
    torch.testing.assert_close(ours.cross_attn.q_proj.weight.grad, theirs.multihead_attn.in_proj_weight.grad[:16],
                               **tol)
    torch.testing.assert_close(ours.self_attn.out_proj.weight.grad, theirs.self_attn.out_proj.weight.grad, **tol)
    assert ours.self_attn_weights.shape == (3, 4, 7, 7)
    assert ours.cross_attn_weights.shape == (3, 4, 7, 5)
    if causal:
        assert (ours.self_attn_weights.triu(1) == 0).all()


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.booleans(), st.integers(0, 2**16))
def test_decoder_layer_equals_torch_any_lengths(batch, tgt_len, src_len, norm_first, seed):
    ours, theirs = _pair(norm_first, "relu", torch.float64, seed=seed % 5, d_model=8, heads=2, ff=12)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, tgt_len, 8, generator=g, dtype=torch.float64)
    memory = torch.randn(batch, src_len, 8, generator=g, dtype=torch.float64)
    torch.testing.assert_close(ours(x, memory), theirs(x, memory, tgt_mask=~ak.causal_mask(tgt_len)))


def test_decoder_layer_eval_float32_matches():
    ours, theirs = _pair(True, "gelu", torch.float32, seed=3, d_model=32, heads=4, ff=64)
    ours.eval(), theirs.eval()
    x, memory = torch.randn(2, 9, 32), torch.randn(2, 4, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, memory), theirs(x, memory, tgt_mask=~ak.causal_mask(9)),
                                   atol=1e-5, rtol=1e-4)


def test_causality_future_tokens_do_not_reach_the_past():
    layer = ak.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    x, memory = torch.randn(2, 6, 8), torch.randn(2, 3, 8)
    changed = x.clone()
    changed[:, 4:] += 1.0
    out, out_changed = layer(x, memory), layer(changed, memory)
    assert torch.equal(out[:, :4], out_changed[:, :4])
    assert not torch.allclose(out[:, 4:], out_changed[:, 4:])
    assert not torch.allclose(layer(x, memory, causal=False)[:, :4], out[:, :4])  # without the mask it leaks


def test_unbatched_input_matches_batched():
    layer = ak.TransformerDecoderLayer(8, 2, dim_feedforward=16, norm_first=True)
    x, memory = torch.randn(5, 8), torch.randn(3, 8)
    torch.testing.assert_close(layer(x, memory), layer(x[None], memory[None])[0])


def test_dropout_only_in_training():
    layer = ak.TransformerDecoderLayer(8, 2, dropout=0.5)
    assert layer.linear1.out_features == 32
    x, memory = torch.randn(2, 4, 8), torch.randn(2, 3, 8)
    layer.eval()
    torch.testing.assert_close(layer(x, memory), layer(x, memory))
    layer.train()
    assert not torch.equal(layer(x, memory), layer(x, memory))


# --- the decoder-only block ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_only_block_equals_causal_encoder_layer(norm_first, activation, dtype):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, dim_feedforward=24, dropout=0.0, activation=activation,
                                        norm_first=norm_first, batch_first=True).to(dtype)
    ours = ak.TransformerDecoderLayer.from_torch(theirs)
    assert ours.cross_attn is None and ours.norm2 is None
    x = torch.randn(2, 6, 16, dtype=dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, ref = ours(x1), theirs(x2, src_mask=~ak.causal_mask(6))
    tol = {} if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out, ref, **tol)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **tol)
    torch.testing.assert_close(ours.norm3.weight.grad, theirs.norm2.weight.grad, **tol)


def test_kv_cache_path_equals_full_forward():
    torch.manual_seed(0)
    layer = ak.TransformerDecoderLayer(8, 2, norm_first=True, cross_attention=False).eval()
    x = torch.randn(2, 7, 8)
    cache = ak.KVCache(1, 2, 2, 7, 4)
    pieces = [layer(x[:, :3], cache=cache)] + [layer(x[:, t:t + 1], cache=cache) for t in range(3, 7)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), layer(x), atol=1e-6, rtol=1e-5)


# --- bad input at the door -------------------------------------------------------------------


def _layer(**kwargs):
    return ak.TransformerDecoderLayer(8, 2, **kwargs)


BAD = [
    ("x width", lambda: _layer()(torch.randn(2, 3, 6), torch.randn(2, 4, 8)), ValueError,
     ["x", "(2, 3, 6)", "d_model=8"]),
    ("memory width", lambda: _layer(norm_first=True)(torch.randn(2, 3, 8), torch.randn(2, 4, 5)), ValueError,
     ["memory", "(2, 4, 5)"]),
    ("batch sizes", lambda: _layer()(torch.randn(2, 3, 8), torch.randn(3, 4, 8)), ValueError,
     ["(2, 3, 8)", "(3, 4, 8)"]),
    ("integer x", lambda: _layer()(torch.ones(2, 3, 8, dtype=torch.long), torch.randn(2, 4, 8)), TypeError,
     ["torch.int64"]),
    ("missing memory", lambda: _layer()(torch.randn(2, 3, 8)), ValueError, ["memory", "cross_attention=False"]),
    ("memory without cross-attention",
     lambda: _layer(cross_attention=False)(torch.randn(2, 3, 8), torch.randn(2, 3, 8)),
     ValueError, ["cross_attention=False"]),
    ("float self_mask with causal", lambda: _layer()(torch.randn(2, 3, 8), torch.randn(2, 4, 8),
                                                     self_mask=torch.zeros(3, 3)), TypeError, ["bool", "causal=False"]),
    ("causal not a bool", lambda: _layer()(torch.randn(2, 3, 8), torch.randn(2, 4, 8), causal=1), TypeError,
     ["causal"]),
    ("bad activation", lambda: _layer(activation="tanh"), ValueError, ["tanh"]),
    ("cross_attention not a bool", lambda: _layer(cross_attention="yes"), TypeError, ["cross_attention"]),
    ("negative feedforward", lambda: _layer(dim_feedforward=-1), ValueError, ["dim_feedforward", "-1"]),
    ("not divisible", lambda: ak.TransformerDecoderLayer(10, 3), ValueError, ["d_model=10", "num_heads=3"]),
    ("from_torch wrong module", lambda: ak.TransformerDecoderLayer.from_torch(nn.Linear(2, 2)), TypeError, ["Linear"]),
    ("from_torch not batch first", lambda: ak.TransformerDecoderLayer.from_torch(
        nn.TransformerDecoderLayer(8, 2, dim_feedforward=8)), ValueError, ["batch_first"]),
    ("from_torch other activation", lambda: ak.TransformerDecoderLayer.from_torch(
        nn.TransformerDecoderLayer(8, 2, dim_feedforward=8, batch_first=True, activation=torch.tanh)),
     ValueError, ["relu or gelu"]),
    ("cache with cross-attention", lambda: _layer()(torch.randn(1, 1, 8), torch.randn(1, 2, 8),
                                                    cache=ak.KVCache(1, 1, 2, 4, 4)), ValueError, ["cache"]),
]


@pytest.mark.parametrize("what, call, error, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_decoder_input(what, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{what}: {fragment!r} not in {info.value}"


# --- CausalLM and TinySeq2Seq ----------------------------------------------------------------


def small_lm(seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(vocab_size=13, d_model=16, num_heads=2, num_layers=2, max_len=32)
    args.update(kwargs)
    return ak.CausalLM(**args)


def test_causal_lm_shapes_causality_and_weights():
    lm = small_lm()
    ids = torch.randint(0, 13, (3, 10))
    logits = lm(ids)
    assert logits.shape == (3, 10, 13)
    assert all(isinstance(layer, ak.TransformerDecoderLayer) and layer.cross_attn is None for layer in lm.layers)
    assert [w.shape for w in lm.attn_weights] == [(3, 2, 10, 10)] * 2
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 13
    assert torch.equal(lm(changed)[:, :6], logits[:, :6])
    assert not torch.allclose(lm(changed)[:, 6:], logits[:, 6:])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 3), st.integers(1, 8), st.integers(1, 12))
def test_causal_lm_cached_generation_equals_recompute(seed, batch, prompt_len, new):
    lm = small_lm(seed % 5)
    prompt = torch.randint(0, 13, (batch, prompt_len), generator=torch.Generator().manual_seed(seed))
    fast = lm.generate(prompt, new, use_cache=True)
    assert fast.shape == (batch, prompt_len + new) and torch.equal(fast[:, :prompt_len], prompt)
    assert torch.equal(fast, lm.generate(prompt, new, use_cache=False))
    sampled = [lm.generate(prompt, new, use_cache=c, temperature=1.0, generator=torch.Generator().manual_seed(1))
               for c in (True, False)]
    assert torch.equal(*sampled)


def test_causal_lm_learns_a_repeating_sequence():
    ids = torch.arange(5).repeat(20)  # 0 1 2 3 4 0 1 2 ...
    lm = small_lm(vocab_size=5, max_len=12)
    losses = ak.train(lm, lambda g: ak.char_lm_batch(ids, 16, 12, generator=g), ak.next_token_loss,
                      steps=80, lr=1e-2, progress=False)
    assert losses[-1] < 0.1 * losses[0]
    assert lm.generate(torch.tensor([2, 3]), 6).tolist() == [2, 3, 4, 0, 1, 2, 3, 4]


def test_causal_lm_bad_input():
    lm = small_lm()
    with pytest.raises(TypeError, match="integer"):
        lm(torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"0 \.\. 12"):
        lm(torch.tensor([[1, 13]]))
    with pytest.raises(ValueError, match="max_len=32"):
        lm(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match=r"30 \+ 5 new tokens.*max_len=32"):
        lm.generate(torch.zeros(1, 30, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(torch.zeros(1, 3, dtype=torch.long), 2, temperature=-1.0)
    with pytest.raises(TypeError, match="use_cache"):
        lm.generate(torch.zeros(1, 3, dtype=torch.long), 2, use_cache="yes")


def test_seq2seq_shapes_shift_and_cross_attention():
    torch.manual_seed(0)
    model = ak.TinySeq2Seq(vocab_size=10, d_model=16, num_heads=2, max_len=8, num_decoder_layers=2)
    src, tgt = ak.toy_batch("reverse", 3, 6, generator=torch.Generator().manual_seed(0))
    shifted = model.shift_right(tgt)
    assert (shifted[:, 0] == 10).all() and torch.equal(shifted[:, 1:], tgt[:, :-1])
    assert model(src, shifted).shape == (3, 6, 10)
    assert [w.shape for w in model.cross_attn_weights] == [(3, 2, 6, 6)] * 2
    assert model.generate(src).shape == (3, 6) and model.generate(src, length=4).shape == (3, 4)


def test_seq2seq_greedy_generation_equals_teacher_forcing_on_its_own_output():
    torch.manual_seed(1)
    model = ak.TinySeq2Seq(vocab_size=10, d_model=16, num_heads=2, max_len=8).eval()
    src = torch.randint(0, 10, (4, 7))
    out = model.generate(src)
    with torch.no_grad():
        again = model(src, model.shift_right(out)).argmax(-1)
    assert torch.equal(out, again)  # causal: step t only saw the tokens it had written before t


def test_train_seq2seq_learns_reverse_and_is_deterministic():
    kwargs = dict(task="reverse", length=6, steps=100, d_model=32, num_heads=4, dim_feedforward=64, progress=False)
    model_a, losses_a = ak.train_seq2seq(**kwargs)
    _, losses_b = ak.train_seq2seq(**kwargs)
    assert losses_a == losses_b and not model_a.training
    tokens, sequences = ak.seq2seq_accuracy(model_a, "reverse", 6)
    assert tokens > 0.9 and 0.0 <= sequences <= tokens


def test_seq2seq_bad_input():
    model = ak.TinySeq2Seq(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    with pytest.raises(ValueError, match="src"):
        model.encode(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="max_len=8"):
        model.generate(torch.zeros(1, 4, dtype=torch.long), length=9)
    with pytest.raises(TypeError, match="tgt_in"):
        model.decode(torch.rand(1, 3), torch.randn(1, 3, 16))
    with pytest.raises(ValueError, match="recall"):
        ak.train_seq2seq("recall", steps=1, progress=False)
    with pytest.raises(ValueError, match="task"):
        ak.train_seq2seq("shuffle", steps=1, progress=False)


def test_causal_lm_generate_shares_the_hardened_loop():
    """CausalLM and TinyLM generate through one loop: NaN temperatures are refused, the mode comes back."""
    lm = ak.CausalLM(vocab_size=5, d_model=8, num_heads=2, num_layers=1, max_len=8).train()
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(torch.tensor([[0, 1]]), 2, temperature=float("nan"))
    assert lm.training
    assert ak.CausalLM.generate is ak.TinyLM.generate
