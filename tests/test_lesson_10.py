"""Lesson 10's data, models, figure, widget and checkers (what heads learn)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import attnkit as ak  # noqa: E402
from attnkit.check import lesson10  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- repeat_batch --------------------------------------------------------------------------

def test_repeat_batch_copies_the_segment_and_targets_only_the_predictable_positions():
    x, y, s, n = ak.repeat_batch(200, 24, 32, generator=gen(1))
    assert x.shape == (200, 24) and y.shape == (200, 24, 1) and s.shape == n.shape == (200,)
    assert n.min() >= 6 and n.max() <= 12 and s.min() >= 0 and (s + 2 * n).max() <= 24
    for b in range(200):
        sb, nb = s[b].item(), n[b].item()
        assert torch.equal(x[b, sb + nb:sb + 2 * nb], x[b, sb:sb + nb])
        wanted = torch.full((24,), -100)
        wanted[sb + nb:sb + 2 * nb - 1] = x[b, sb + nb + 1:sb + 2 * nb]  # next token inside the copy
        assert torch.equal(y[b, :, 0], wanted)


def test_repeat_batch_varies_the_copy_distance_and_is_seeded():
    _, _, s, n = ak.repeat_batch(500, generator=gen(2))
    assert set(n.tolist()) == set(range(6, 13))
    assert len(set(s.tolist())) > 5
    a, b = ak.repeat_batch(4, generator=gen(3)), ak.repeat_batch(4, generator=gen(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(length=20, max_repeat=12), ValueError, "length >= 24"),
    (dict(min_repeat=8, max_repeat=6), ValueError, "max_repeat"),
    (dict(min_repeat=1), ValueError, "min_repeat"),
    (dict(generator=0), TypeError, "generator"),
])
def test_repeat_batch_bad_input_names_it(kwargs, error, words):
    with pytest.raises(error, match=words):
        ak.repeat_batch(2, **kwargs)


# --- shape_images and object_patches --------------------------------------------------------

def test_shape_images_hold_the_labelled_shape_inside_one_patch():
    images, labels, mask = ak.shape_images(300, size=16, patch_size=4, noise=0.0, generator=gen(4))
    assert images.shape == (300, 1, 16, 16) and labels.shape == (300,) and mask.shape == (300, 16, 16)
    assert set(labels.tolist()) == {0, 1, 2}
    assert torch.equal(images[:, 0] > 0.5, mask)  # no noise: the image is the mask
    patches = ak.object_patches(mask, 4)
    assert patches.shape == (300, 16) and (patches.sum(1) == 1).all()
    for b in range(300):
        rows, cols = mask[b].nonzero(as_tuple=True)
        box = mask[b, rows.min():rows.min() + 3, cols.min():cols.min() + 3]
        if box.shape == (3, 3) and box.sum() == ak.SHAPES[labels[b]].sum():
            assert torch.equal(box.float(), ak.SHAPES[labels[b]])
    assert len(set(patches.float().argmax(1).tolist())) == 16  # every patch is used somewhere


def test_shape_images_noise_and_seed():
    a = ak.shape_images(3, noise=0.5, generator=gen(5))
    b = ak.shape_images(3, noise=0.5, generator=gen(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    background = a[0][:, 0][~a[2]]
    assert 0.3 < background.std().item() < 0.7


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(size=15), ValueError, "multiple of patch_size"),
    (dict(noise=-1.0), ValueError, "noise"),
    (dict(patch_size=2), ValueError, "patch_size"),
    (dict(generator="seed"), TypeError, "generator"),
])
def test_shape_images_bad_input_names_it(kwargs, error, words):
    with pytest.raises(error, match=words):
        ak.shape_images(2, **kwargs)


def test_object_patches_bad_input():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ak.object_patches(torch.zeros(1, 5, 5, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match=r"\(B, S, S\)"):
        ak.object_patches(torch.zeros(5, 5, dtype=torch.bool), 1)


# --- image_to_patches and TinyViT -----------------------------------------------------------

def test_image_to_patches_matches_a_loop_over_the_patches():
    images = torch.randn(2, 3, 8, 12, generator=gen(6))
    p = 4
    got = ak.image_to_patches(images, p)
    assert got.shape == (2, 6, 48)
    n = 0
    for r in range(2):
        for c in range(3):
            assert torch.equal(got[:, n], images[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(2, -1))
            n += 1
    assert not torch.equal(got, images.reshape(2, 6, 48))  # the strips mistake differs


@pytest.mark.parametrize("images, p, error, words", [
    (torch.zeros(1, 1, 6, 6), 4, ValueError, "multiple of patch_size"),
    (torch.zeros(6, 6), 2, ValueError, r"\(B, C, H, W\)"),
    ("image", 2, TypeError, "images"),
])
def test_image_to_patches_bad_input(images, p, error, words):
    with pytest.raises(error, match=words):
        ak.image_to_patches(images, p)


def test_tiny_vit_shapes_and_class_attention():
    torch.manual_seed(0)
    model = ak.TinyViT(image_size=16, patch_size=4, d_model=16, num_heads=2, num_classes=3)
    with pytest.raises(ValueError, match="call the model"):
        model.class_attention()
    logits = model(torch.randn(5, 1, 16, 16))
    assert logits.shape == (5, 3)
    assert model.attn_weights.shape == (5, 2, 17, 17)
    spot = model.class_attention()
    assert spot.shape == (5, 16)
    assert torch.allclose(spot.sum(1) + model.attn_weights[:, :, 0, 0].mean(1), torch.ones(5), atol=1e-5)


def test_tiny_vit_bad_input():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ak.TinyViT(image_size=10, patch_size=4)
    model = ak.TinyViT(image_size=8, patch_size=4, d_model=8)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        model(torch.randn(2, 1, 16, 16))


# --- head_scores ------------------------------------------------------------------------------

def _pattern(T, start, length, kind):
    w = torch.zeros(T, T)
    for p in range(T):
        if kind == "previous":
            w[p, max(p - 1, 0)] = 1.0
        elif start + length <= p < start + 2 * length:
            w[p, p - length + 1] = 1.0
        else:
            w[p, 0] = 1.0
    return w


def test_head_scores_find_a_perfect_previous_token_and_induction_head():
    T, s, n = 12, 1, 4
    weights = torch.stack([_pattern(T, s, n, "previous"), _pattern(T, s, n, "induction")])  # (H, T, T)
    previous, induction = ak.head_scores(weights[None, None], torch.tensor([s]), torch.tensor([n]))
    assert previous.shape == induction.shape == (1, 2)
    assert previous[0, 0] == 1.0 and induction[0, 1] == 1.0
    assert induction[0, 0] == 0.0  # looking one step back is not induction (n > 2)


def test_head_scores_pool_the_per_sequence_scores():
    g = gen(7)
    weights = torch.softmax(torch.randn(3, 2, 2, 16, 16, generator=g), -1)  # (B, L, H, T, T)
    starts, lengths = torch.tensor([0, 2, 5]), torch.tensor([4, 6, 3])
    previous, induction = ak.head_scores(weights, starts, lengths)
    for layer in range(2):
        per_seq = torch.stack([lesson10._previous_reference(weights[b, layer]) for b in range(3)])
        assert torch.allclose(previous[layer], per_seq.mean(0), atol=1e-6)
        picked = torch.cat([lesson10._induction_pick(weights[b, layer],
                                                     torch.arange(s + n, s + 2 * n), 1 - n)
                            for b, (s, n) in enumerate(zip(starts.tolist(), lengths.tolist()))], dim=1)
        assert torch.allclose(induction[layer], picked.mean(1), atol=1e-6)


@pytest.mark.parametrize("weights, starts, lengths, words", [
    (torch.zeros(2, 1, 1, 8, 7), torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long), "B, L, H, T, T"),
    (torch.zeros(2, 1, 1, 8, 8), torch.zeros(3, dtype=torch.long), torch.ones(2, dtype=torch.long), "starts"),
    (torch.zeros(2, 1, 1, 8, 8), torch.zeros(2, dtype=torch.long), [1, 1], "lengths"),
    (torch.zeros(2, 1, 1, 8, 8), torch.tensor([0, 2]), torch.tensor([4, 4]), "starts \\+ 2 \\* lengths"),
])
def test_head_scores_bad_input(weights, starts, lengths, words):
    with pytest.raises(ValueError, match=words):
        ak.head_scores(weights, starts, lengths)


def test_two_layer_model_runs_on_the_task_with_head_mask():
    torch.manual_seed(0)
    model = ak.AttentionOnlyModel(32, d_model=16, num_heads=2, max_len=24, num_layers=2, num_outputs=1)
    x, y, s, n = ak.repeat_batch(8, generator=gen(8))
    full = model.loss(x, y).item()
    off = model.loss(x, y, head_mask=torch.zeros(2, 2)).item()
    assert full != off
    previous, induction = ak.head_scores(model.attn_weights, s, n)
    assert previous.shape == induction.shape == (2, 2)


# --- figure and widget ----------------------------------------------------------------------

def test_plot_patch_attention_draws_heatmap_and_outline():
    ax = ak.plot.plot_patch_attention(torch.zeros(1, 8, 8), torch.rand(4), 4, title="t",
                                      highlight=torch.tensor([0, 0, 1, 0]))
    assert len(ax.images) == 2 and len(ax.patches) == 1 and ax.get_title() == "t"
    assert ax.images[1].get_array().shape == (8, 8)


@pytest.mark.parametrize("image, weights, p, words", [
    (torch.zeros(8, 8), torch.rand(5), 4, "do not tile"),
    (torch.zeros(8, 6), torch.rand(4), 4, r"\(S, S\)"),
    (torch.zeros(8, 8), torch.rand(4), 0, "patch_size"),
])
def test_plot_patch_attention_bad_input(image, weights, p, words):
    with pytest.raises(ValueError, match=words):
        ak.plot.plot_patch_attention(image, weights, p)


def test_draw_induction_pattern_marks_the_two_keys():
    T, s, n = 10, 1, 4
    weights = torch.stack([_pattern(T, s, n, "previous"), _pattern(T, s, n, "induction")])[None]  # (1, 2, T, T)
    tokens = list("abcdebcdez")
    fig = ak.widgets.draw_induction_pattern(weights, tokens, s, n, layer=0, head=1, query=6)
    assert isinstance(fig, Figure)
    assert fig.axes[-1].get_title() == "query 6 (c): previous key 0.00, after-earlier key 1.00"
    fig = ak.widgets.draw_induction_pattern(weights, tokens, s, n, layer=0, head=0, query=2)
    assert fig.axes[-1].get_title().endswith("previous key 1.00, after-earlier key n/a")
    default = ak.widgets.draw_induction_pattern(weights, tokens, s, n)
    assert default.axes[-1].get_title().startswith(f"query {s + n + n // 2} ")


@pytest.mark.parametrize("kwargs, words", [
    (dict(start=4, length=4), "repeated segment"),
    (dict(start=0, length=3, layer=1), "layer 1"),
    (dict(start=0, length=3, head=2), "head 2"),
    (dict(start=0, length=3, query=10), "query 10"),
])
def test_draw_induction_pattern_bad_input(kwargs, words):
    weights = torch.softmax(torch.randn(1, 2, 10, 10), -1)
    with pytest.raises(ValueError, match=words):
        ak.widgets.draw_induction_pattern(weights, list("abcdefghij"), **kwargs)


def test_induction_explorer_is_an_explorer_with_a_figure():
    weights = torch.softmax(torch.randn(2, 2, 10, 10), -1)
    explorer = ak.widgets.induction_explorer(weights, list("abcdefghij"), 1, 4)
    assert isinstance(explorer, ak.widgets.Explorer)
    assert "Induction explorer" in repr(explorer)
    assert isinstance(explorer.widget.last_figure, Figure)


# --- checkers ---------------------------------------------------------------------------------

def stub(*args):
    raise NotImplementedError()


def _patches(x, p, order):
    B, C, H, W = x.shape
    return x.reshape(B, C, H // p, p, W // p, p).permute(*order).reshape(B, (H // p) * (W // p), -1)


@pytest.mark.parametrize("fn, status, fragment", [
    (ak.image_to_patches, "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda x, p: x.reshape(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1), "fail", "strips"),
    (lambda x, p: x.view(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1), "fail", "strips"),
    (lambda x, p: _patches(x, p, (0, 4, 2, 1, 3, 5)), "fail", "column by column"),
    (lambda x, p: _patches(x, p, (0, 2, 4, 1, 5, 3)), "fail", "column-first"),
    (lambda x, p: _patches(x, p, (0, 2, 4, 3, 5, 1)), "fail", "channel comes last"),
    (lambda x, p: ak.image_to_patches(x, p)[:, :, :4], "fail", "(B, N, C * p * p)"),
])
def test_image_to_patches_checker_names_the_mistake(fn, status, fragment):
    verdict = ak.check.image_to_patches.evaluate(fn)
    assert verdict.status == status, verdict.message
    assert fragment in verdict.message


def _prev(w):
    p = torch.arange(1, w.shape[-1])
    return w[:, p, p - 1].mean(-1)


@pytest.mark.parametrize("fn, status, fragment", [
    (_prev, "pass", "matches the reference"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).mean(-1), "pass", "matches"),
    (stub, "todo", "NotImplementedError"),
    (lambda w: torch.diagonal(w, offset=1, dim1=-2, dim2=-1).mean(-1), "fail", "NEXT key"),
    (lambda w: torch.stack([w[:, p, p - 1] for p in range(w.shape[-1])], -1).mean(-1), "fail",
     "included query 0"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).sum(-1) / w.shape[-1], "fail", "divided by T"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).mean(0), "fail", "wrong axis"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).mean(), "fail", "one score per head"),
])
def test_previous_token_score_checker_names_the_mistake(fn, status, fragment):
    verdict = ak.check.previous_token_score.evaluate(fn)
    assert verdict.status == status, verdict.message
    assert fragment in verdict.message


def _ind(w, s, n, first=None, offset=1):
    p = torch.arange(s + n if first is None else first, s + 2 * n)
    return w[:, p, p - n + offset].mean(-1)


@pytest.mark.parametrize("fn, status, fragment", [
    (_ind, "pass", "matches the reference"),
    (stub, "todo", "NotImplementedError"),
    (lambda w, s, n: _ind(w, s, n, offset=0), "fail", "earlier occurrence itself"),
    (lambda w, s, n: _ind(w, s, n, offset=-1), "fail", "BEFORE the earlier occurrence"),
    (lambda w, s, n: w[:, torch.arange(n - 1, w.shape[-1]), torch.arange(0, w.shape[-1] - n + 1)].mean(-1),
     "fail", "no earlier occurrence"),
    (lambda w, s, n: _ind(w, s, n, first=max(s, n - 1)), "fail", "before the copy"),
    (lambda w, s, n: w[:, torch.arange(s + n, s + 2 * n), torch.arange(s + 1, s + n + 1)].mean(0), "fail",
     "wrong axis"),
])
def test_induction_score_checker_names_the_mistake(fn, status, fragment):
    verdict = ak.check.induction_score.evaluate(fn)
    assert verdict.status == status, verdict.message
    assert fragment in verdict.message
