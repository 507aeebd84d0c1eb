"""Explorer for lesson 01: who did it?."""

from __future__ import annotations

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
def draw_who_did_it(models: dict, vocab, agent: str = "dog", action: str = "bites",
                    patient: str = "man"):
    """Each model's belief about who did it, for a sentence and for its swapped twin (lesson 01).

    ``models`` maps a name to a classifier ``ids (B, T) -> logits (B, len(AGENTS))``.
    One panel per model; in each, the probability given to ``agent`` and to
    ``patient`` for "the agent action the patient" and for "the patient action the agent".
    Returns a matplotlib ``Figure``.
    """
    from ..data import ACTIONS, AGENTS

    for word, pool, name in ((agent, AGENTS, "agent"), (patient, AGENTS, "patient"),
                             (action, ACTIONS, "action")):
        if word not in pool:
            raise ValueError(f"{name} {word!r} is not one of {pool}")
    if agent == patient:
        raise ValueError(f"agent and patient must differ, both are {agent!r}")
    sentences = [f"the {agent} {action} the {patient}", f"the {patient} {action} the {agent}"]
    ids = vocab.encode_batch(sentences)                                   # (2, 5)
    columns = [AGENTS.index(agent), AGENTS.index(patient)]
    fig = new_figure(3.6 * len(models), 3.0)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, (name, model) in zip(axes, models.items()):
        with torch.no_grad():
            probs = torch.softmax(model(ids), dim=-1)[:, columns]           # (2, 2)
        for row in range(2):
            offsets = [row * 3, row * 3 + 1]
            ax.bar(offsets, probs[row].numpy(), color=["tab:orange", "tab:blue"])
        ax.set_xticks([0, 1, 3, 4], [agent, patient, agent, patient])
        ax.set_ylim(0, 1.15)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("P(did it)")
        for row, sentence in enumerate(sentences):
            ax.text(row * 3 + 0.5, 1.06, sentence.replace("the ", ""), ha="center", fontsize=8)
    return fig


def who_did_it_explorer(models: dict, vocab):
    """Pick an agent, a verb and a patient; see which model notices the word order."""
    import ipywidgets as w

    from ..data import ACTIONS, AGENTS

    agent = w.Dropdown(options=AGENTS, value="dog", description="agent")
    action = w.Dropdown(options=ACTIONS, value="bites", description="verb")
    patient = w.Dropdown(options=AGENTS, value="man", description="patient")

    def draw(agent, action, patient):
        if agent == patient:
            fig = new_figure(4, 1)
            fig.text(0.5, 0.5, "pick two different nouns", ha="center")
            return fig
        return draw_who_did_it(models, vocab, agent, action, patient)

    box = live_figure(draw, agent=agent, action=action, patient=patient)
    return Explorer(box, "Who-did-it explorer (live in JupyterLab): pick the nouns and the verb; "
                         "each panel shows a model's P(did it) for the sentence and its swap.")


__all__ += ["draw_who_did_it", "who_did_it_explorer"]
