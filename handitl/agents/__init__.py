"""Policies: scripted experts now; learned policies and training later."""

from handitl.agents.policies import Policy
from handitl.agents.scripted import HoldPolicy, ReachExpert

__all__ = ["HoldPolicy", "Policy", "ReachExpert"]
