"""Toy tasks and the small course corpus (lessons 01, 02, 05, 07).

Everything here is generated from a seed or shipped in the package: no download.

- :func:`toy_batch` draws batches of the synthetic sequence tasks
  (``"copy"``, ``"reverse"``, ``"sort"``, ``"recall"``) used from lesson 02 on.
- :data:`CORPUS` is a small set of subject-verb-object sentences written for the course,
  :class:`Vocab` turns text into tokens and ids and back.
- :func:`who_did_it_batch` is lesson 01's order-dependent task: in "the dog bites the man"
  the agent is the first noun, so a model that ignores word order cannot find it.
"""

from __future__ import annotations

import re

import torch

from ._validate import require_int

__all__: list[str] = ["toy_batch", "TOY_TASKS"]

TOY_TASKS = ("copy", "reverse", "sort", "recall")


def toy_batch(task: str, batch_size: int, length: int, vocab_size: int = 10,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one batch of a synthetic sequence task: ``(inputs, targets)``, both ``(B, T)`` int64.

    Parameters
    ----------
    task : {"copy", "reverse", "sort", "recall"}
        ``"copy"``: targets equal inputs. ``"reverse"``: targets are the inputs flipped.
        ``"sort"``: targets are each row sorted ascending.
        ``"recall"`` (associative recall): the input is ``P = (length - 1) // 2`` key-value
        pairs ``k1 v1 k2 v2 ...`` followed by a query key ``q`` (one of the keys) at position
        ``2 * P``, then one filler ``0`` when ``length`` is even. Keys are distinct ids from the
        lower half ``0 .. vocab_size // 2 - 1``, values come from the upper half
        ``vocab_size // 2 .. vocab_size - 1``. The target is ``-100`` (``cross_entropy``'s
        ignore index) everywhere except at the query's position, where it is the value paired
        with the query key. Recall needs ``length >= 3`` and ``P <= vocab_size // 2``.
    batch_size, length : int
        ``B`` and ``T``, at least 1.
    vocab_size : int
        Token ids lie in ``0 .. vocab_size - 1``; at least 2 (4 for ``"recall"``).
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs, targets : torch.LongTensor of shape (B, T)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = toy_batch("reverse", batch_size=2, length=5, generator=g)
    >>> x.shape, bool((y == x.flip(1)).all())
    (torch.Size([2, 5]), True)
    >>> x, y = toy_batch("recall", 1, 7, vocab_size=10, generator=g)
    >>> x, y  # 3 pairs (key, value), then the query key 4: its value 8 is the target
    (tensor([[2, 6, 3, 6, 4, 8, 4]]), tensor([[-100, -100, -100, -100, -100, -100,    8]]))
    """
    if not isinstance(task, str) or task not in TOY_TASKS:
        raise ValueError(f"task must be one of {TOY_TASKS}, got {task!r}")
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=1)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if task != "recall":
        inputs = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
        if task == "copy":
            targets = inputs.clone()
        elif task == "reverse":
            targets = inputs.flip(1)
        else:
            targets = inputs.sort(dim=1).values
        return inputs, targets
    # associative recall
    n_pairs = (length - 1) // 2
    n_keys = vocab_size // 2
    if length < 3 or vocab_size < 4 or n_pairs > n_keys:
        raise ValueError(
            f"task 'recall' needs length >= 3, vocab_size >= 4 and (length - 1) // 2 <= "
            f"vocab_size // 2 distinct keys; got length={length}, vocab_size={vocab_size} "
            f"({n_pairs} pairs, {n_keys} keys)"
        )
    keys = torch.rand(batch_size, n_keys, generator=generator).argsort(dim=1)[:, :n_pairs]  # (B, P)
    values = torch.randint(n_keys, vocab_size, (batch_size, n_pairs), generator=generator)  # (B, P)
    pick = torch.randint(0, n_pairs, (batch_size, 1), generator=generator)                # (B, 1)
    inputs = torch.zeros(batch_size, length, dtype=torch.long)
    inputs[:, 0:2 * n_pairs:2] = keys
    inputs[:, 1:2 * n_pairs:2] = values
    query_pos = 2 * n_pairs
    inputs[:, query_pos] = keys.gather(1, pick).squeeze(1)
    targets = torch.full((batch_size, length), -100, dtype=torch.long)
    targets[:, query_pos] = values.gather(1, pick).squeeze(1)
    return inputs, targets


# --- the course corpus and its vocabulary (lesson 01) ---------------------------------

#: Short sentences written for the course; every noun of :data:`AGENTS` and every verb of
#: :data:`ACTIONS` occurs in them, so :func:`who_did_it_batch` needs no word outside it.
CORPUS: list[str] = [
    "The dog bites the man.",
    "The man bites the dog.",
    "A cat chases the mouse across the kitchen.",
    "The mouse sees the cat and runs.",
    "The teacher helps the student with the homework.",
    "The student thanks the teacher after class.",
    "A fox follows the rabbit into the woods.",
    "The rabbit hides from the fox under a log.",
    "The farmer feeds the horse every morning.",
    "The horse pushes the farmer with its nose.",
    "The doctor calls the nurse before lunch.",
    "The nurse greets the doctor at the door.",
    "A bird watches the snake in the grass.",
    "The snake ignores the bird and sleeps.",
    "The child hugs the dog in the garden.",
    "The dog licks the child on the cheek.",
    "The king pays the baker for the bread.",
    "The baker thanks the king and bows.",
    "Order matters: the same words can tell two different stories.",
    "Who did what to whom is written in the order of the words.",
    "A model that only counts words cannot see who bites whom.",
    "Attention lets a model look back at every word it has read.",
]

#: Nouns that play the agent (who did it) and the patient in :func:`who_did_it_batch`.
AGENTS: tuple[str, ...] = ("dog", "man", "cat", "mouse", "teacher", "student", "fox", "rabbit",
                           "farmer", "horse", "doctor", "nurse", "bird", "snake", "child", "king")
#: Transitive verbs of :func:`who_did_it_batch`.
ACTIONS: tuple[str, ...] = ("bites", "chases", "sees", "helps", "follows", "feeds", "calls",
                            "greets", "watches", "hugs", "pays", "thanks", "pushes", "licks")

_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and punctuation marks.

    Examples
    --------
    >>> tokenize("The dog bites the man.")
    ['the', 'dog', 'bites', 'the', 'man', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


class Vocab:
    """Token <-> id tables: id 0 is ``<pad>``, id 1 is ``<unk>`` (any word never seen).

    Examples
    --------
    >>> vocab = Vocab.build(["The dog bites the man."])
    >>> len(vocab), vocab.encode("the man bites the cat")
    (7, tensor([2, 5, 4, 2, 1]))
    >>> vocab.decode([2, 3, 4, 2, 5])
    ['the', 'dog', 'bites', 'the', 'man']
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens):
        self.itos: list[str] = [self.PAD, self.UNK]
        for token in tokens:
            if token not in self.itos:
                self.itos.append(token)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_id, self.unk_id = 0, 1

    @classmethod
    def build(cls, texts) -> Vocab:
        """Every token of ``texts`` (a list of strings), in order of first appearance."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a list of strings")
        return cls(token for text in texts for token in tokenize(text))

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {', '.join(self.itos[:8])}, ...)"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` -> ids ``(T,)``; unknown words get ``unk_id``."""
        return torch.tensor([self.stoi.get(t, self.unk_id) for t in tokenize(text)], dtype=torch.long)

    def encode_batch(self, texts: list[str]) -> torch.Tensor:
        """Texts -> ids ``(B, T_max)``, padded on the right with ``pad_id``."""
        if isinstance(texts, str) or not texts:
            raise ValueError("texts must be a non-empty list of strings")
        rows = [self.encode(t) for t in texts]
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad_id)

    def decode(self, ids) -> list[str]:
        """Ids (a list or a 1-d tensor) -> tokens."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= int(i) < len(self)]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary 0..{len(self) - 1}")
        return [self.itos[int(i)] for i in ids]


def corpus_vocab() -> Vocab:
    """The :class:`Vocab` of :data:`CORPUS` (the one every lesson uses)."""
    return Vocab.build(CORPUS)


def who_did_it_batch(batch_size: int, generator: torch.Generator | None = None,
                     vocab: Vocab | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 01's order-dependent task: read "the A verb the P", name the agent A.

    Each sentence is ``the <agent> <verb> the <patient>`` with two different nouns from
    :data:`AGENTS`. "the dog bites the man" and "the man bites the dog" hold the same
    words, so only a model that uses word order can tell their agents apart.

    Returns
    -------
    ids : torch.LongTensor (B, 5)
        Token ids in ``vocab`` (default :func:`corpus_vocab`).
    agent : torch.LongTensor (B,)
        Index of the agent in :data:`AGENTS` (the class to predict).

    Examples
    --------
    >>> vocab = corpus_vocab()
    >>> ids, agent = who_did_it_batch(2, torch.Generator().manual_seed(0), vocab)
    >>> ids.shape, [" ".join(vocab.decode(row)) for row in ids], [AGENTS[a] for a in agent]
    (torch.Size([2, 5]), ['the bird chases the student', 'the king hugs the dog'], ['bird', 'king'])
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    vocab = corpus_vocab() if vocab is None else vocab
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be an attnkit Vocab, got {type(vocab).__name__}")
    missing = [w for w in ("the", *AGENTS, *ACTIONS) if w not in vocab.stoi]
    if missing:
        raise ValueError(f"vocab lacks the task's words {missing[:5]}")
    n = len(AGENTS)
    agent = torch.randint(0, n, (batch_size,), generator=generator)                   # (B,)
    patient = (agent + torch.randint(1, n, (batch_size,), generator=generator)) % n   # never the agent
    verb = torch.randint(0, len(ACTIONS), (batch_size,), generator=generator)
    noun_ids = torch.tensor([vocab.stoi[w] for w in AGENTS])
    verb_ids = torch.tensor([vocab.stoi[w] for w in ACTIONS])
    the = torch.full((batch_size,), vocab.stoi["the"])
    ids = torch.stack([the, noun_ids[agent], verb_ids[verb], the, noun_ids[patient]], dim=1)  # (B, 5)
    return ids, agent


__all__ += ["CORPUS", "AGENTS", "ACTIONS", "tokenize", "Vocab", "corpus_vocab", "who_did_it_batch"]


# --- lesson 05 ---

__all__ += ["two_relations_batch"]


def two_relations_batch(batch_size: int, length: int, vocab_size: int = 16,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 05's task that needs two different relations at every position.

    At each position ``t`` a causal model must output two tokens: the **previous** token
    ``x[t - 1]`` and the **first** token ``x[0]``. One attention head can serve one relation
    (look one step back, or look at position 0), so a model with two heads can split the work.

    Parameters
    ----------
    batch_size, length : int
        ``B`` and ``T``; ``length`` is at least 2.
    vocab_size : int
        Tokens are uniform in ``0 .. vocab_size - 1``; chance accuracy is ``1 / vocab_size``.
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs : torch.LongTensor, shape ``(B, T)``
    targets : torch.LongTensor, shape ``(B, T, 2)``
        ``targets[..., 0]`` is the previous token, ``targets[..., 1]`` the first token;
        position 0 has neither (it holds ``-100``, ``cross_entropy``'s ignore index).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = two_relations_batch(1, 5, vocab_size=10, generator=g)
    >>> x
    tensor([[4, 9, 3, 0, 3]])
    >>> y[0, :, 0], y[0, :, 1]  # previous token, first token
    (tensor([-100,    4,    9,    3,    0]), tensor([-100,    4,    4,    4,    4]))
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=2)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    inputs = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
    targets = torch.full((batch_size, length, 2), -100, dtype=torch.long)  # (B, T, 2)
    targets[:, 1:, 0] = inputs[:, :-1]
    targets[:, 1:, 1] = inputs[:, :1]
    return inputs, targets



# --- lesson 07 ---


# --- lesson 09 ---

__all__ += ["offset_lookup_batch"]


def offset_lookup_batch(batch_size: int, length: int, offset: int = 3, vocab_size: int = 16,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 09's task: at every position, output the token ``offset`` places back.

    The rule is the same at every position and every length, so a model that has learned
    it at short lengths *could* apply it to longer sequences; whether it does depends on
    how it represents positions. A causal model sees ``x[t - offset]`` at position ``t``;
    the first ``offset`` positions have no answer (target ``-100``, the ignore index).

    Parameters
    ----------
    batch_size, length : int
        ``B`` and ``T``; ``length`` is more than ``offset``.
    offset : int
        How far back to look, at least 1.
    vocab_size : int
        Tokens are uniform in ``0 .. vocab_size - 1``; chance accuracy is ``1 / vocab_size``.
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs, targets : torch.LongTensor, shape ``(B, T)``

    Examples
    --------
    >>> x, y = offset_lookup_batch(1, 6, offset=2, vocab_size=10,
    ...                            generator=torch.Generator().manual_seed(0))
    >>> x, y
    (tensor([[4, 9, 3, 0, 3, 9]]), tensor([[-100, -100,    4,    9,    3,    0]]))
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    offset = require_int(offset, "offset", minimum=1)
    length = require_int(length, "length", minimum=1)
    if length <= offset:
        raise ValueError(f"length={length} must exceed offset={offset}: no position would have an answer")
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    inputs = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
    targets = torch.full_like(inputs, -100)  # (B, T)
    targets[:, offset:] = inputs[:, :-offset]
    return inputs, targets


# --- lesson 10 ---

__all__ += ["repeat_batch", "SHAPE_NAMES", "SHAPES", "shape_images", "object_patches"]


def _check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def repeat_batch(batch_size: int, length: int = 24, vocab_size: int = 32, min_repeat: int = 6,
                 max_repeat: int = 12, generator: torch.Generator | None = None):
    """Lesson 10's induction task: random tokens in which a random segment is repeated right after itself.

    Each sequence is ``length`` uniform random tokens; a segment of random length
    ``n`` in ``min_repeat .. max_repeat`` starting at a random offset ``s`` is copied
    right after itself: ``tokens[s + n : s + 2n] = tokens[s : s + n]``. The copy distance
    ``n`` varies, so no fixed position tells where to look: only the content does.
    The targets are the next token at the positions ``p`` in ``s + n .. s + 2n - 2``,
    where it can be predicted by finding the earlier occurrence of ``tokens[p]`` and
    copying the token after it (induction); every other target is ``-100``.

    Parameters
    ----------
    batch_size, length, vocab_size : int
        ``B``, ``T`` and the number of token ids.
    min_repeat, max_repeat : int
        Range of the segment length ``n``; ``2 <= min_repeat <= max_repeat`` and
        ``2 * max_repeat <= length``.
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    tokens : torch.LongTensor, shape ``(B, T)``
    targets : torch.LongTensor, shape ``(B, T, 1)``
        The next token on the repeat, ``-100`` elsewhere (the shape
        :class:`attnkit.AttentionOnlyModel` with ``num_outputs=1`` expects).
    starts, lengths : torch.LongTensor, shape ``(B,)``
        ``s`` and ``n`` of each sequence.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y, s, n = repeat_batch(1, length=10, vocab_size=10, min_repeat=3, max_repeat=3, generator=g)
    >>> x[0].tolist(), s.item(), n.item()
    ([4, 9, 3, 0, 3, 3, 0, 3, 7, 3], 2, 3)
    >>> y[0, :, 0].tolist()  # positions 5 and 6 predict the copy's 2nd and 3rd token
    [-100, -100, -100, -100, -100, 0, 3, -100, -100, -100]
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=4)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    min_repeat = require_int(min_repeat, "min_repeat", minimum=2)
    max_repeat = require_int(max_repeat, "max_repeat", minimum=min_repeat)
    if 2 * max_repeat > length:
        raise ValueError(f"a repeated segment of max_repeat={max_repeat} needs length >= {2 * max_repeat}, "
                         f"got length={length}")
    _check_generator(generator)
    tokens = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
    lengths = torch.randint(min_repeat, max_repeat + 1, (batch_size,), generator=generator)  # (B,)
    starts = (torch.rand(batch_size, generator=generator) * (length - 2 * lengths + 1)).long()  # (B,)
    pos = torch.arange(length)[None]  # (1, T)
    s, n = starts[:, None], lengths[:, None]  # (B, 1)
    in_copy = (pos >= s + n) & (pos < s + 2 * n)  # (B, T)
    source = torch.where(in_copy, pos - n, pos)  # (B, T): where each token comes from
    tokens = tokens.gather(1, source)  # the copy reads the original segment, which lies before it
    predictable = (pos >= s + n) & (pos <= s + 2 * n - 2)  # (B, T)
    targets = torch.full((batch_size, length, 1), -100, dtype=torch.long)  # (B, T, 1)
    targets[:, :-1, 0] = tokens[:, 1:]
    targets[~predictable] = -100
    return tokens, targets, starts, lengths


SHAPE_NAMES = ("plus", "cross", "ring")
SHAPES = torch.tensor([
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]],  # plus
    [[1, 0, 1], [0, 1, 0], [1, 0, 1]],  # cross
    [[1, 1, 1], [1, 0, 1], [1, 1, 1]],  # ring
], dtype=torch.float32)


def shape_images(batch_size: int, size: int = 16, patch_size: int = 4, noise: float = 0.5,
                 generator: torch.Generator | None = None):
    """Lesson 10's images: Gaussian noise with one small shape at a random place; label = which shape.

    Each ``size x size`` one-channel image is noise of standard deviation ``noise`` plus
    one of the three 3x3 shapes of :data:`SHAPES` (``SHAPE_NAMES``: plus, cross, ring)
    added at brightness 1. The shape lies inside one ``patch_size x patch_size`` patch
    (a random patch, at a random offset inside it), so exactly one patch holds the object.

    Returns
    -------
    images : torch.FloatTensor, shape ``(B, 1, size, size)``
    labels : torch.LongTensor, shape ``(B,)``
        Index into ``SHAPE_NAMES``.
    object_mask : torch.BoolTensor, shape ``(B, size, size)``
        True on the shape's bright pixels.

    Examples
    --------
    >>> images, labels, mask = shape_images(2, generator=torch.Generator().manual_seed(0))
    >>> images.shape, labels.tolist(), mask.sum((1, 2)).tolist()
    (torch.Size([2, 1, 16, 16]), [1, 2], [5, 8])
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    size = require_int(size, "size", minimum=1)
    patch_size = require_int(patch_size, "patch_size", minimum=3)
    if size % patch_size:
        raise ValueError(f"size={size} is not a multiple of patch_size={patch_size}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    _check_generator(generator)
    images = torch.randn(batch_size, 1, size, size, generator=generator) * noise  # (B, 1, S, S)
    labels = torch.randint(0, len(SHAPES), (batch_size,), generator=generator)  # (B,)
    grid = size // patch_size
    rows = (torch.randint(0, grid, (batch_size,), generator=generator) * patch_size
            + torch.randint(0, patch_size - 2, (batch_size,), generator=generator))  # (B,)
    cols = (torch.randint(0, grid, (batch_size,), generator=generator) * patch_size
            + torch.randint(0, patch_size - 2, (batch_size,), generator=generator))  # (B,)
    object_mask = torch.zeros(batch_size, size, size, dtype=torch.bool)  # (B, S, S)
    for b in range(batch_size):
        r, c = rows[b].item(), cols[b].item()
        object_mask[b, r:r + 3, c:c + 3] = SHAPES[labels[b]] > 0
    images = images + object_mask[:, None].float()
    return images, labels, object_mask


def object_patches(object_mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Which patches hold part of the object: ``(B, S, S)`` bool -> ``(B, N)`` bool, row-major patches.

    Examples
    --------
    >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    >>> mask[0, 3, 0] = True  # bottom-left pixel
    >>> object_patches(mask, 2).tolist()  # patches: top-left, top-right, bottom-left, bottom-right
    [[False, False, True, False]]
    """
    if not isinstance(object_mask, torch.Tensor) or object_mask.dim() != 3:
        got = tuple(object_mask.shape) if isinstance(object_mask, torch.Tensor) else type(object_mask).__name__
        raise ValueError(f"object_mask must be a (B, S, S) tensor, got {got}")
    patch_size = require_int(patch_size, "patch_size", minimum=1)
    B, H, W = object_mask.shape
    if H % patch_size or W % patch_size:
        raise ValueError(f"image size {H}x{W} is not a multiple of patch_size={patch_size}")
    grid = object_mask.view(B, H // patch_size, patch_size, W // patch_size, patch_size)
    return grid.any(4).any(2).reshape(B, -1)  # (B, N)
