"""Predict-then-reveal questions: commit to an answer before you read on.

In JupyterLab a question is a small widget (choices, a *Reveal* button, the
verdict). Where widgets cannot run (GitHub, nbviewer, a PDF, a plain Python
shell, ipywidgets missing) it shows as plain text, and ``quiz.reveal(choice)``
gives the same verdict.
"""

from __future__ import annotations

__all__ = ["Quiz", "ask"]

_LETTERS = "abcdefghij"


class Quiz:
    """One multiple-choice question with its answer and why.

    Examples
    --------
    >>> q = Quiz("2 + 2?", ["3", "4"], answer=1, explanation="Arithmetic.")
    >>> print(q.reveal(1))
    ✅ Right: 4. Arithmetic.
    >>> print(q.reveal("a"))
    ❌ Not quite: the answer is 4. Arithmetic.
    """

    def __init__(self, question: str, options: list[str], answer: int, explanation: str):
        if not options:
            raise ValueError("a quiz needs at least one option")
        if not 0 <= answer < len(options):
            raise ValueError(f"answer must index the {len(options)} options, got {answer}")
        self.question, self.options = question, list(options)
        self.answer, self.explanation = answer, explanation
        self._widget = None

    def _index(self, choice) -> int | None:
        if choice is None:
            return None
        if isinstance(choice, str) and len(choice) == 1 and choice.lower() in _LETTERS:
            return _LETTERS.index(choice.lower())
        if isinstance(choice, str):
            return self.options.index(choice) if choice in self.options else None
        return int(choice)

    def reveal(self, choice=None) -> str:
        """The verdict for ``choice`` (an index, a letter or the option's text)."""
        index = self._index(choice)
        right = self.options[self.answer]
        if index is None:
            return f"💡 The answer is {right}. {self.explanation}"
        if index == self.answer:
            return f"✅ Right: {right}. {self.explanation}"
        return f"❌ Not quite: the answer is {right}. {self.explanation}"

    def text(self) -> str:
        """The question as plain text (what GitHub, nbviewer and a PDF show)."""
        lines = [f"🤔 {self.question}"]
        lines += [f"  ({_LETTERS[i]}) {option}" for i, option in enumerate(self.options)]
        lines.append("Commit to an answer, then click Reveal (or run quiz.reveal('a')).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def widget(self):
        """The interactive version; ``None`` when ipywidgets is not installed."""
        try:
            import ipywidgets as w
        except ImportError:
            return None
        if self._widget is None:
            choices = w.RadioButtons(
                options=[(f"({_LETTERS[i]}) {o}", i) for i, o in enumerate(self.options)],
                value=None, layout=w.Layout(width="auto"),
            )
            button = w.Button(description="Reveal", button_style="info")
            verdict = w.HTML()

            def on_click(_):
                verdict.value = f"<p>{self.reveal(choices.value)}</p>"

            button.on_click(on_click)
            self._widget = w.VBox([w.HTML(f"<b>🤔 {self.question}</b>"), choices, button, verdict])
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        widget = self.widget()
        bundle = widget._repr_mimebundle_() if widget is not None else {}
        bundle["text/plain"] = self.text()
        return bundle


def ask(question: str, options: list[str], answer: int, explanation: str) -> Quiz:
    """Make a :class:`Quiz`; leave it as a cell's last expression to show it."""
    return Quiz(question, options, answer, explanation)
