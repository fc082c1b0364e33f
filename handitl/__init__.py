"""handitl: human-in-the-loop correction of bimanual dexterous policies in MuJoCo.

``import handitl`` registers the Gymnasium ids ``HandITL/<Task>-v0``.
"""

from handitl import envs  # noqa: F401  (registers the Gymnasium ids)

__version__ = "0.1.0"
