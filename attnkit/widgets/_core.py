"""The machinery every explorer uses. Each ``*_explorer`` returns an :class:`Explorer`; the drawing is a
plain function (``draw_*``) that returns a matplotlib ``Figure``, so a test can call
it directly and a notebook can show the same figure statically beside the widget.
"""

from __future__ import annotations

import io

import torch

from .._validate import shape_str

__all__ = ["Explorer"]


class Explorer:
    """A live widget with a plain-text stand-in.

    JupyterLab shows ``widget``; GitHub, nbviewer, a PDF and nbval see ``text``
    (widget reprs are long and change between ipywidgets versions).
    """

    def __init__(self, widget, text: str):
        self.widget, self.text = widget, text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = self.text
        return bundle


PNG_DPI = 90


def figure_png(fig, dpi: int = PNG_DPI) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def live_figure(draw, **controls):
    """An ipywidgets box: the ``controls`` above, the figure ``draw(**values)`` below.

    The figure is re-rendered into an ``ipywidgets.Image`` whenever a control
    moves (an image, not an ``Output``, so nothing is printed into the notebook);
    the box's ``last_figure`` attribute holds the figure drawn last.
    """
    import ipywidgets as w

    image = w.Image(format="png")
    box = w.VBox([w.HBox(list(controls.values())), image])

    def redraw(_change=None):
        box.last_figure = draw(**{name: c.value for name, c in controls.items()})
        image.value = figure_png(box.last_figure, dpi=PNG_DPI)
        image.width = str(int(box.last_figure.get_figwidth() * PNG_DPI))  # natural size, not cell width

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box


def _one_sequence(x, name: str) -> torch.Tensor:
    """``x`` as a plain float32 ``(T, D)`` tensor for drawing: detached, on the CPU, one sequence."""
    from .._validate import require_tensor

    require_tensor(x, name)
    if x.dim() != 2:
        raise ValueError(
            f"{name} must be one sequence (T, D), got shape {shape_str(x.shape)}; "
            f"for a batch, pick one example, e.g. {name}[0]"
        )
    return x.detach().to("cpu", torch.float32)  # bfloat16 has no numpy twin; grad is not needed to draw
