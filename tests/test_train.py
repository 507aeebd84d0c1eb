"""attnkit.train: one seeded training loop, a fixed number of steps."""

import math

import pytest
import torch

import attnkit as ak


def linear_problem():
    model = torch.nn.Linear(3, 1)

    def batch(g):
        x = torch.randn(8, 3, generator=g)
        return x, x.sum(-1, keepdim=True)

    def mse(m, b):
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    return model, batch, mse


def run(seed=0, **kwargs):
    torch.manual_seed(123)  # same initial weights
    model, batch, loss = linear_problem()
    return model, ak.train(model, batch, loss, progress=False, seed=seed, **kwargs)


def test_same_seed_same_losses():
    _, a = run(steps=30, lr=0.05, warmup=5, cosine=True, clip=1.0)
    _, b = run(steps=30, lr=0.05, warmup=5, cosine=True, clip=1.0)
    assert a == b


def test_other_seed_other_batches():
    _, a = run(seed=0, steps=10, lr=0.05)
    _, b = run(seed=1, steps=10, lr=0.05)
    assert a != b


@pytest.mark.parametrize("steps", [1, 7, 25])
def test_exact_step_count_and_eval_mode(steps):
    model, losses = run(steps=steps, lr=0.01)
    assert len(losses) == steps and all(math.isfinite(x) for x in losses)
    assert not model.training


def test_it_learns():
    model, losses = run(steps=300, lr=0.05)
    assert losses[-1] < 1e-3 * losses[0]
    assert torch.allclose(model.weight, torch.ones(1, 3), atol=0.02)


def test_lr_schedule_shape():
    assert [ak.lr_schedule(s, 10, warmup=4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert ak.lr_schedule(7, 10) == 1.0
    values = [ak.lr_schedule(s, 20, warmup=2, cosine=True) for s in range(2, 20)]
    assert values[0] == 1.0 and all(a >= b for a, b in zip(values, values[1:])) and values[-1] < 0.05


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"steps": 0}, ValueError, "steps must be at least 1"),
    ({"steps": 2.5}, TypeError, "steps must be an integer"),
    ({"steps": 3, "lr": "fast"}, TypeError, "lr must be a number"),
    ({"steps": 3, "seed": -1}, ValueError, "seed must be at least 0"),
])
def test_bad_input(kwargs, error, fragment):
    model, batch, loss = linear_problem()
    with pytest.raises(error, match=fragment):
        ak.train(model, batch, loss, progress=False, **kwargs)


def test_seed_everything_returns_seeded_generator():
    a = torch.randn(3, generator=ak.seed_everything(5))
    b = torch.randn(3, generator=ak.seed_everything(5))
    assert torch.equal(a, b)
    with pytest.raises(TypeError, match="seed must be an integer"):
        ak.seed_everything("0")
