"""Small models the lessons train, one family per module; every public name is re-exported here.

``attention_only`` (lesson 05), ``seq_transformer`` and ``decoder_lm`` (lesson 07), ``positions``
(lesson 09), ``heads`` (lesson 10), ``char_lm`` and ``rotary_lm`` (lesson 11). Invariant: every model is
small enough to train on a laptop's CPU in seconds, and its forward pass keeps the attention weights it
used, for plotting.
"""

from . import attention_only, char_lm, decoder_lm, heads, positions, rotary_lm, seq_transformer
from .attention_only import *  # noqa: F401,F403
from .char_lm import *  # noqa: F401,F403
from .decoder_lm import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .positions import *  # noqa: F401,F403
from .rotary_lm import *  # noqa: F401,F403
from .seq_transformer import *  # noqa: F401,F403

__all__ = [name for module in (attention_only, seq_transformer, decoder_lm, char_lm, positions, heads, rotary_lm)
           for name in module.__all__]
