"""Exceptions of the env package: each names the problem in the caller's terms."""

from __future__ import annotations


class HandITLEnvError(Exception):
    """Base class of env errors."""


class ActionError(HandITLEnvError, ValueError):
    """An action has the wrong shape or non-finite values."""


class PhysicsError(HandITLEnvError, RuntimeError):
    """The simulation diverged (MuJoCo reported a bad acceleration or a NaN state)."""


class ConfigError(HandITLEnvError, ValueError):
    """An env or task configuration is inconsistent."""


class RegistryError(HandITLEnvError, KeyError):
    """A task id is unknown or registered twice."""
