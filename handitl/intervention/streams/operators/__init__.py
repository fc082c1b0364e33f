"""Simulated operators: a person's hand and arm (profiles), scripted gestures, intent following.

* :mod:`.profiles`: :class:`OperatorProfile` (hand size, neutral pose, tremor, drift, reaction
  delay, arm workspace) and the named profiles ``operator_a`` / ``operator_b``;
* :mod:`.motion`: minimum-jerk blends, tremor and drift processes;
* :mod:`.gestures`: :class:`GestureScript`, takeover schedules, :class:`ScriptedOperator`;
* :mod:`.intent`: :class:`IntentFollowingOperator`, a closed-loop source that corrects the
  robot toward an intent.
"""

from handitl.intervention.streams.operators.gestures import (
    GESTURES,
    HOLD,
    GestureScript,
    GestureSegment,
    HandTrajectory,
    RandomTakeovers,
    ScriptedOperator,
    TakeoverPlan,
    TakeoverSchedule,
    WristPath,
    three_takeovers,
)
from handitl.intervention.streams.operators.intent import (
    Intent,
    IntentFollowingConfig,
    IntentFollowingOperator,
    IntentTarget,
)
from handitl.intervention.streams.operators.motion import HandNoise, SumOfSines, min_jerk
from handitl.intervention.streams.operators.profiles import (
    HOME_WRIST_QUAT,
    OPERATOR_A,
    OPERATOR_B,
    PROFILES,
    ArmWorkspace,
    OperatorProfile,
    ProfileError,
    get_profile,
)

__all__ = [
    "GESTURES", "HOLD", "HOME_WRIST_QUAT", "OPERATOR_A", "OPERATOR_B", "PROFILES", "ArmWorkspace",
    "GestureScript", "GestureSegment", "HandNoise", "HandTrajectory", "Intent",
    "IntentFollowingConfig", "IntentFollowingOperator", "IntentTarget", "OperatorProfile",
    "ProfileError", "RandomTakeovers", "ScriptedOperator", "SumOfSines", "TakeoverPlan",
    "TakeoverSchedule", "WristPath", "get_profile", "min_jerk", "three_takeovers",
]  # fmt: skip
