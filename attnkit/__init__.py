"""attnkit: the helper package of the course *Attention in depth*.

Every lesson starts with ``import attnkit as ak``. Each module holds one idea
and its docstring names the lesson that teaches it.
"""

from . import check, plot, quiz, widgets  # noqa: F401  (used as ak.check.*, ak.plot.*, ...)
from .attention import *  # noqa: F401,F403
from .caches import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .decoder import *  # noqa: F401,F403
from .efficient import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .masks import *  # noqa: F401,F403
from .measure import *  # noqa: F401,F403
from .memory import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .plot import plot_attention  # noqa: F401
from .positional import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403

__version__ = "0.1.0"
