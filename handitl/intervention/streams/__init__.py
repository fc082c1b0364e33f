"""Human hand/wrist/pedal streams: frames, recordings, importers, operators, live.

Every source delivers :class:`HumanFrame` s through the :class:`HumanSource` protocol:

* recorded: :class:`RecordedSource` replays a :class:`StreamRecording` (``read_recording``,
  or an importer in :mod:`.importers`) on the episode clock, resampled;
* scripted: :class:`ScriptedOperator` (gesture scripts, takeover schedules) and
  :class:`IntentFollowingOperator` (closed loop on the robot's state), with named
  :class:`OperatorProfile` s;
* live: :class:`UdpHumanSource` (wire format in :mod:`.wire`), with pedals from
  :mod:`.pedals` merged in by :class:`WithPedals`.

Conventions (frames, units, quaternion order, keypoints): ``docs/conventions.md``.
"""

from handitl.intervention.streams.frame import (
                                                FrameError,
                                                HandState,
                                                HumanFrame,
                                                PedalState,
                                                untracked_hand,  # fmt: skip
)
from handitl.intervention.streams.human_hand import HumanHandModel, named_pose
from handitl.intervention.streams.live import UdpHumanSender, UdpHumanSource
from handitl.intervention.streams.operators import (
                                                PROFILES,
                                                GestureScript,
                                                IntentFollowingOperator,
                                                IntentTarget,
                                                OperatorProfile,
                                                ScriptedOperator,
                                                get_profile,  # fmt: skip
                                                three_takeovers,
)
from handitl.intervention.streams.pedals import FakePedals, PedalSource, WithPedals
from handitl.intervention.streams.recording import (
                                                HandTrack,
                                                RecordingError,
                                                RecordingMetadata,
                                                StreamRecording,
                                                read_recording,
                                                write_recording,  # fmt: skip
)
from handitl.intervention.streams.resample import RecordedSource, resample, resample_uniform
from handitl.intervention.streams.source import (
                                                ClosedLoopSource,
                                                HumanSource,
                                                RobotFeedback,
                                                SourceStatus,  # fmt: skip
                                                StreamError,
)

__all__ = [
    "PROFILES", "ClosedLoopSource", "FakePedals", "FrameError", "GestureScript", "HandState",
    "HandTrack", "HumanFrame", "HumanHandModel", "HumanSource", "IntentFollowingOperator",
    "IntentTarget", "OperatorProfile", "PedalSource", "PedalState", "RecordedSource",
    "RecordingError", "RecordingMetadata", "RobotFeedback", "ScriptedOperator", "SourceStatus",
    "StreamError", "StreamRecording", "UdpHumanSender", "UdpHumanSource", "WithPedals",
    "get_profile", "named_pose", "read_recording", "resample", "resample_uniform",
    "three_takeovers", "untracked_hand", "write_recording",
]  # fmt: skip
