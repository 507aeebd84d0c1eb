"""attnkit.data: toy tasks, the corpus, the tokenizer and vocabulary, the who-did-it task."""

import pytest
import torch

import attnkit as ak


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("task", ["copy", "reverse", "sort", "recall"])
@pytest.mark.parametrize("length", [3, 8, 9])
def test_toy_batch_shapes_range_and_seed(task, length):
    x, y = ak.toy_batch(task, 4, length, vocab_size=12, generator=gen(1))
    assert x.shape == y.shape == (4, length)
    assert x.dtype == y.dtype == torch.long
    assert 0 <= x.min() and x.max() < 12
    x2, y2 = ak.toy_batch(task, 4, length, vocab_size=12, generator=gen(1))
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_toy_batch_targets():
    x, y = ak.toy_batch("copy", 3, 6, generator=gen())
    assert torch.equal(x, y)
    x, y = ak.toy_batch("reverse", 3, 6, generator=gen())
    assert torch.equal(y, x.flip(1))
    x, y = ak.toy_batch("sort", 3, 6, generator=gen())
    assert torch.equal(y, x.sort(1).values)
    assert (y[:, 1:] >= y[:, :-1]).all()


@pytest.mark.parametrize("length", [3, 7, 8, 11])
def test_recall_layout(length):
    x, y = ak.toy_batch("recall", 50, length, vocab_size=10, generator=gen(2))
    n_pairs = (length - 1) // 2
    q = 2 * n_pairs
    assert (y[:, :q] == -100).all() and (y[:, q + 1:] == -100).all()
    keys, values = x[:, 0:q:2], x[:, 1:q:2]
    assert (keys < 5).all() and (values >= 5).all()
    for row in range(50):
        assert len(set(keys[row].tolist())) == n_pairs  # distinct keys
        match = (keys[row] == x[row, q]).nonzero()
        assert len(match) == 1
        assert y[row, q] == values[row, match[0, 0]]
    if length % 2 == 0:
        assert (x[:, -1] == 0).all()


@pytest.mark.parametrize("args, fragment", [
    (("shuffle", 2, 5), "task must be one of"),
    (("copy", 0, 5), "batch_size must be at least 1"),
    (("copy", 2, 0), "length must be at least 1"),
    (("copy", 2, 5, 1), "vocab_size must be at least 2"),
    (("recall", 2, 2), "length=2"),
    (("recall", 2, 15, 10), "7 pairs, 5 keys"),
])
def test_toy_batch_rejects_bad_input(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        ak.toy_batch(*args)


def test_toy_batch_type_errors():
    with pytest.raises(TypeError, match="batch_size"):
        ak.toy_batch("copy", 2.5, 4)
    with pytest.raises(TypeError, match="generator"):
        ak.toy_batch("copy", 2, 4, generator=0)


def test_tokenize_and_vocab_roundtrip():
    assert ak.tokenize("The Dog, bites!") == ["the", "dog", ",", "bites", "!"]
    vocab = ak.corpus_vocab()
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    ids = vocab.encode("the dog bites the man")
    assert vocab.decode(ids) == ["the", "dog", "bites", "the", "man"]
    assert vocab.encode("zebra").tolist() == [vocab.unk_id]
    batch = vocab.encode_batch(["the dog", "the dog bites the man ."])
    assert batch.shape == (2, 6) and (batch[0, 2:] == vocab.pad_id).all()


def test_vocab_rejects_bad_input():
    vocab = ak.corpus_vocab()
    with pytest.raises(TypeError, match="text must be a str"):
        vocab.encode(3)
    with pytest.raises(ValueError, match=r"ids \[999\]"):
        vocab.decode([2, 999])
    with pytest.raises(TypeError, match="list of strings"):
        ak.Vocab.build("not a list")
    with pytest.raises(ValueError, match="non-empty list"):
        vocab.encode_batch([])


def test_corpus_holds_every_task_word():
    words = {t for s in ak.CORPUS for t in ak.tokenize(s)}
    assert set(ak.AGENTS) <= words and set(ak.ACTIONS) <= words


def test_who_did_it_batch():
    vocab = ak.corpus_vocab()
    ids, agent = ak.who_did_it_batch(200, gen(3), vocab)
    assert ids.shape == (200, 5) and agent.shape == (200,)
    agents = [vocab.stoi[w] for w in ak.AGENTS]
    assert (ids[:, 1] == torch.tensor(agents)[agent]).all()      # agent is the first noun
    assert (ids[:, 1] != ids[:, 4]).all()                        # patient differs
    assert (ids[:, 0] == vocab.stoi["the"]).all()
    ids2, agent2 = ak.who_did_it_batch(200, gen(3), vocab)
    assert torch.equal(ids, ids2) and torch.equal(agent, agent2)
    # a bag of the same words is the same for both orders: sorted rows hold both nouns
    swapped = ids[:, [0, 4, 2, 3, 1]]
    assert torch.equal(ids.sort(1).values, swapped.sort(1).values)


def test_who_did_it_rejects_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        ak.who_did_it_batch(0)
    with pytest.raises(TypeError, match="vocab"):
        ak.who_did_it_batch(2, vocab={"the": 1})
    with pytest.raises(ValueError, match="lacks the task's words"):
        ak.who_did_it_batch(2, vocab=ak.Vocab.build(["the dog"]))
