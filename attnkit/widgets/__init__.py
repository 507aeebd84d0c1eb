"""Explorer widgets. Each ``*_explorer`` returns an :class:`Explorer`; the drawing is a
plain function (``draw_*``) that returns a matplotlib ``Figure``, so a test can call
it directly and a notebook can show the same figure statically beside the widget.

Layout: ``_core.py`` holds the machinery (:class:`Explorer`, :func:`live_figure`); each lesson's
explorers live in ``lessonNN.py`` and are re-exported here, so a notebook writes ``ak.widgets.<name>``.
"""

from . import (  # noqa: F401
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson11,
)
from ._core import PNG_DPI, Explorer, figure_png, live_figure  # noqa: F401
from .lesson01 import *  # noqa: F401,F403
from .lesson02 import *  # noqa: F401,F403
from .lesson03 import *  # noqa: F401,F403
from .lesson04 import *  # noqa: F401,F403
from .lesson05 import *  # noqa: F401,F403
from .lesson06 import *  # noqa: F401,F403
from .lesson07 import *  # noqa: F401,F403
from .lesson08 import *  # noqa: F401,F403
from .lesson09 import *  # noqa: F401,F403
from .lesson10 import *  # noqa: F401,F403
from .lesson11 import *  # noqa: F401,F403

__all__ = ["Explorer", "figure_png", "live_figure"] + [
    name for module in (lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08, lesson09,
                        lesson10, lesson11)
    for name in module.__all__]
