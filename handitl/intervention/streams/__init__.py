"""Human hand/wrist/pedal streams: frames, recordings, importers, operators, live."""

from handitl.intervention.streams.frame import (FrameError, HandState, HumanFrame, PedalState,
                                                untracked_hand)  # fmt: skip
from handitl.intervention.streams.source import (ClosedLoopSource, HumanSource, RobotFeedback,
                                                 SourceStatus, StreamError)  # fmt: skip

__all__ = [
    "ClosedLoopSource", "FrameError", "HandState", "HumanFrame", "HumanSource", "PedalState",
    "RobotFeedback", "SourceStatus", "StreamError", "untracked_hand",
]  # fmt: skip
