"""Predict-then-reveal questions: commit to an answer before you read on.

In JupyterLab a question is a small widget (choices, a *Reveal* button, the
verdict). Where widgets cannot run (GitHub, nbviewer, a PDF, a plain Python
shell, ipywidgets missing) it shows as plain text with its number, and
``ak.quiz.reveal(number, choice)`` gives the same verdict.
"""

from __future__ import annotations

import numbers
import string

__all__ = ["Quiz", "ask", "reveal"]

_LETTERS = string.ascii_lowercase
_ASKED: list[Quiz] = []  # every question of this session, numbered from 1 in the order first asked


class Verdict(str):
    """A verdict line that shows without quotes as a cell's last expression."""

    def __repr__(self) -> str:
        return str(self)


class Quiz:
    """One multiple-choice question with its answer and why.

    Examples
    --------
    >>> q = Quiz("2 + 2?", ["3", "4"], answer=1, explanation="Arithmetic.")
    >>> print(q.reveal(1))
    ✅ Right: 4. Arithmetic.
    >>> print(q.reveal("a"))
    ❌ Not quite: the answer is 4. Arithmetic.
    >>> print(q.text().splitlines()[-1])  # doctest: +ELLIPSIS
    Commit to an answer, then click Reveal, or run ak.quiz.reveal(..., 'a') with your letter.
    """

    def __init__(self, question: str, options: list[str], answer: int, explanation: str):
        if isinstance(options, str) or not isinstance(options, (list, tuple)):
            raise TypeError(f"options must be a list of strings, got {type(options).__name__}")
        if not options:
            raise ValueError("a quiz needs at least one option")
        if len(options) > len(_LETTERS):
            raise ValueError(f"a quiz can have at most {len(_LETTERS)} options (a-z), got {len(options)}")
        if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
            raise TypeError(
                f"answer must be the index of the right option (0 for (a)), got {answer!r} "
                f"({type(answer).__name__})"
            )
        if not 0 <= answer < len(options):
            raise ValueError(f"answer must index the {len(options)} options, got {answer}")
        self.question, self.options = question, [str(option) for option in options]
        self.answer, self.explanation = int(answer), explanation
        self._widget = None
        self.number = _register(self)

    def _index(self, choice) -> int | None:
        n = len(self.options)
        if choice is None:
            return None
        if isinstance(choice, str):
            if len(choice) == 1 and choice.lower() in _LETTERS[:n]:  # a letter first, as the text shows
                return _LETTERS.index(choice.lower())
            if choice in self.options:
                return self.options.index(choice)
            raise ValueError(
                f"{choice!r} is not one of the options: give a letter from 'a' to {_LETTERS[n - 1]!r}, "
                f"an index from 0 to {n - 1}, or an option's text"
            )
        if isinstance(choice, bool) or not isinstance(choice, numbers.Integral):
            raise TypeError(f"choice must be a letter, an index or an option's text, got {choice!r}")
        if not 0 <= choice < n:
            raise ValueError(f"choice {choice} is not an option index: this question has options 0 to {n - 1}")
        return int(choice)

    def reveal(self, choice=None) -> str:
        """The verdict for ``choice`` (an index, a letter or the option's text); no choice: the answer."""
        index = self._index(choice)
        right = self.options[self.answer]
        if index is None:
            return Verdict(f"💡 The answer is {right}. {self.explanation}")
        if index == self.answer:
            return Verdict(f"✅ Right: {right}. {self.explanation}")
        return Verdict(f"❌ Not quite: the answer is {right}. {self.explanation}")

    def text(self) -> str:
        """The question as plain text (what GitHub, nbviewer and a PDF show)."""
        lines = [f"🤔 {self.question}"]
        lines += [f"  ({_LETTERS[i]}) {option}" for i, option in enumerate(self.options)]
        lines.append(f"Commit to an answer, then click Reveal, or run ak.quiz.reveal({self.number}, 'a') "
                     f"with your letter.")
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


def _register(quiz: Quiz) -> int:
    """The question's number in this session; asking the same question again keeps its number."""
    for number, earlier in enumerate(_ASKED, 1):
        if (earlier.question, earlier.options) == (quiz.question, quiz.options):
            _ASKED[number - 1] = quiz
            return number
    _ASKED.append(quiz)
    return len(_ASKED)


def ask(question: str, options: list[str], answer: int, explanation: str) -> Quiz:
    """Make a :class:`Quiz`; leave it as a cell's last expression to show it.

    Examples
    --------
    >>> q = ask("Which is prime?", ["4", "7"], answer=1, explanation="7 has no divisors but 1 and 7.")
    >>> reveal(q.number, "b")
    ✅ Right: 7. 7 has no divisors but 1 and 7.
    """
    return Quiz(question, options, answer, explanation)


def reveal(number: int, choice=None) -> str:
    """The verdict for question ``number`` (as its text shows it) and your ``choice``.

    This is the plain-text twin of the *Reveal* button: in a lesson without widgets, run
    ``ak.quiz.reveal(3, 'b')`` in a new cell. ``choice`` is a letter, an index or the
    option's text; leave it out to see the answer.
    """
    if isinstance(number, bool) or not isinstance(number, numbers.Integral):
        raise TypeError(f"number must be the question's number (as its text shows it), got {number!r}")
    if not 1 <= number <= len(_ASKED):
        asked = f"1 to {len(_ASKED)}" if _ASKED else "none yet: run the question's cell first"
        raise ValueError(f"there is no question {number} in this session (questions asked: {asked})")
    return _ASKED[number - 1].reveal(choice)
