"""Exercise checkers: run a learner's function against the reference on many inputs.

Each checker prints exactly one line:

* ``✅ …`` when every generated case matches the reference;
* ``❌ …`` with a hint that says what differs (shape, row sums, which positions)
  and, where it recognises one, the typical mistake by name;
* ``✏️ …`` while the exercise stub (``raise NotImplementedError``) is untouched.

Whatever the learner's function does, the verdict is one line, never a traceback.
Checkers are objects: ``check.softmax(fn)`` prints, ``check.softmax.evaluate(fn)``
returns the :class:`Verdict` (what the tests use).

Layout: ``_core.py`` holds the machinery (:class:`Checker`, :class:`Case`,
:class:`Verdict`, :class:`CheckFailed`, the comparison); ``_guards.py`` the guards
around a learner's function (time limit, shape watch, stub detection, pristine copies
and in-place edits); each lesson's checkers live in ``lessonNN.py`` and are re-exported
here, so a learner writes ``ak.check.<name>``. A new lesson adds its module and
one import line below (the options are described in CONTRIBUTING.md, "Exercises").
"""

from . import lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08  # noqa: F401
from ._core import *  # noqa: F401,F403
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
