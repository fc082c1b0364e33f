"""Policies: scripted experts, and learned chunk policies with their training.

The torch parts are separate modules, imported on use so that scripted experts and the
env never need torch: :mod:`.data` (datasets), :mod:`.teleop` (simulated teleoperation
demos), :mod:`.models` (flow matching, behaviour cloning), :mod:`.vision` (optional image
encoder), :mod:`.weighting` (DexHiL),
:mod:`.flowcorrect` (LoRA repair), :mod:`.checkpoint`, :mod:`.learned` (receding-horizon
:class:`~handitl.agents.learned.ChunkPolicy`), :mod:`.training`, :mod:`.evaluation`.
"""

from handitl.agents.policies import Policy
from handitl.agents.scripted import HoldPolicy, ReachExpert

__all__ = ["HoldPolicy", "Policy", "ReachExpert"]
