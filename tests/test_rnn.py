"""attnkit.rnn: the fixed-context and the attentive GRU encoder-decoders."""

import pytest
import torch

import attnkit as ak


@pytest.mark.parametrize("cls", [ak.FixedContextSeq2Seq, ak.AttentionSeq2Seq])
def test_shapes_and_generate(cls):
    torch.manual_seed(0)
    model = cls(vocab_size=7, hidden=8)
    src = torch.randint(0, 7, (3, 5))
    tgt = torch.randint(0, 7, (3, 4))
    logits, weights = model(src, tgt)
    assert logits.shape == (3, 4, 7)
    tokens, gen_weights = model.generate(src, length=6)
    assert tokens.shape == (3, 6) and tokens.dtype == torch.long
    if cls is ak.AttentionSeq2Seq:
        assert weights.shape == (3, 4, 5) and gen_weights.shape == (3, 6, 5)
        assert torch.allclose(weights.sum(-1), torch.ones(3, 4), atol=1e-6)
    else:
        assert weights is None and gen_weights is None


def test_same_seed_same_model():
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = ak.AttentionSeq2Seq(vocab_size=5, hidden=4)
        outs.append(model(torch.tensor([[1, 2, 3]]), torch.tensor([[3, 2, 1]]))[0])
    assert torch.equal(*outs)


def test_teacher_forcing_matches_greedy_on_its_own_predictions():
    torch.manual_seed(1)
    model = ak.AttentionSeq2Seq(vocab_size=6, hidden=8).eval()
    src = torch.randint(0, 6, (2, 5))
    tokens, weights = model.generate(src)
    with torch.no_grad():
        logits, forced_weights = model(src, tokens)  # feeding its own tokens reproduces greedy decoding
    assert torch.equal(logits.argmax(-1), tokens)
    assert torch.allclose(weights, forced_weights, atol=1e-6)


def test_fixed_context_ignores_encoder_states_except_summary():
    """The fixed-context decoder sees the input only through the encoder summary."""
    torch.manual_seed(2)
    model = ak.FixedContextSeq2Seq(vocab_size=6, hidden=8).eval()
    src = torch.randint(0, 6, (1, 5))
    states, summary = model.encoder(src)
    assert summary.shape == (1, 16)
    assert torch.allclose(summary[:, :8], states[:, -1, :8]) and torch.allclose(summary[:, 8:], states[:, 0, 8:])


def test_additive_attention_matches_formula():
    torch.manual_seed(0)
    attn = ak.AdditiveAttention(3, 4, 5)
    q, k = torch.randn(2, 3), torch.randn(2, 6, 4)
    context, weights = attn(q, k)
    expected = torch.tanh((q @ attn.w_query.weight.T)[:, None] + k @ attn.w_key.weight.T + attn.w_key.bias)
    expected = torch.softmax((expected @ attn.v.weight.T).squeeze(-1), -1)
    assert torch.allclose(weights, expected, atol=1e-6)
    assert torch.allclose(context, torch.einsum("bt,btd->bd", expected, k), atol=1e-6)


def test_training_learns_reverse_short():
    model = ak.AttentionSeq2Seq(vocab_size=5, hidden=16)

    def batch(g):
        return ak.toy_batch("reverse", 32, 4, vocab_size=5, generator=g)

    def loss(m, b):
        return torch.nn.functional.cross_entropy(m(*b)[0].flatten(0, 1), b[1].flatten())

    ak.seed_everything(0)
    losses = ak.train(model, batch, loss, steps=120, lr=1e-2, progress=False)
    assert losses[-1] < 0.5 * losses[0]


def test_token_accuracy():
    assert ak.token_accuracy(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 0], [3, 4]])) == 0.75
    assert ak.token_accuracy(torch.tensor([[1, 2]]), torch.tensor([[-100, 2]])) == 1.0
    with pytest.raises(ValueError, match=r"\(1, 2\).*\(2, 1\)"):
        ak.token_accuracy(torch.zeros(1, 2), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="all are -100"):
        ak.token_accuracy(torch.zeros(1, 2), torch.full((1, 2), -100))
    with pytest.raises(TypeError, match="list"):
        ak.token_accuracy([1], torch.zeros(1))


def test_bad_input():
    with pytest.raises(ValueError, match="vocab_size must be at least 2"):
        ak.AttentionSeq2Seq(vocab_size=1)
    with pytest.raises(TypeError, match="hidden must be an integer"):
        ak.FixedContextSeq2Seq(vocab_size=5, hidden=2.0)
    model = ak.AttentionSeq2Seq(vocab_size=5, hidden=4)
    with pytest.raises(ValueError, match=r"ids in 0\.\.7, outside the vocabulary 0\.\.4"):
        model(torch.tensor([[0, 7]]), torch.tensor([[1, 2]]))
    with pytest.raises(TypeError, match="src must be a \\(B, T\\) int64"):
        model(torch.zeros(1, 3), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="different batch sizes"):
        model(torch.tensor([[0, 1]]), torch.tensor([[1, 2], [0, 0]]))
    attn = ak.AdditiveAttention(3, 4, 5)
    with pytest.raises(ValueError, match=r"query \(2, 2\) and keys \(2, 6, 4\)"):
        attn(torch.randn(2, 2), torch.randn(2, 6, 4))
    with pytest.raises(ValueError, match="query_dim must be at least 1"):
        ak.AdditiveAttention(0, 4, 5)


@pytest.mark.parametrize("j", [0, 3, 5])
def test_encoder_state_halves_read_the_prefix_and_the_suffix(j):
    """Lesson 02's explanation of the shifted alignment: the forward half of h_j depends on
    inputs 0..j only, the backward half on inputs j..T-1 only (zero gradient elsewhere)."""
    torch.manual_seed(0)
    enc = ak.GRUEncoder(vocab_size=10, hidden=4)
    src = torch.randint(0, 10, (1, 6))
    embedded = enc.embed(src).detach().requires_grad_(True)      # (1, T, H)
    states, _ = enc.gru(embedded)                                # (1, T, 2H)
    depends = {}
    for half, columns in [("forward", slice(0, 4)), ("backward", slice(4, 8))]:
        grad, = torch.autograd.grad(states[0, j, columns].sum(), embedded, retain_graph=True)
        depends[half] = (grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()
    assert depends["forward"] == list(range(0, j + 1))
    assert depends["backward"] == list(range(j, 6))


def test_additive_attention_with_projected_keys_equals_without_and_checks_their_shape():
    torch.manual_seed(0)
    attn = ak.AdditiveAttention(query_dim=4, key_dim=6, hidden=5)
    query, keys = torch.randn(2, 4), torch.randn(2, 7, 6)
    context, weights = attn(query, keys)
    context_2, weights_2 = attn(query, keys, projected_keys=attn.w_key(keys))
    assert torch.equal(context, context_2) and torch.equal(weights, weights_2)
    with pytest.raises(ValueError, match=r"projected_keys \(2, 7, 6\) must be w_key\(keys\), shape \(2, 7, 5\)"):
        attn(query, keys, projected_keys=keys)
