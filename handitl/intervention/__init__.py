"""Human intervention: streams, modes, arm shared control, the wrapper and the recorder."""

from handitl.intervention.modes import Interval, Mode, ModeSwitch, PedalModes, ScheduledModes
from handitl.intervention.recorder import Episode, EpisodeRecorder, episode_paths, read_episode
from handitl.intervention.shared_control import (AnchoredWristMapping, SharedControlConfig,
                                                 VelocityResidual)  # fmt: skip
from handitl.intervention.wrapper import InterventionConfig, InterventionRecord, InterventionWrapper

__all__ = [
    "AnchoredWristMapping", "Episode", "EpisodeRecorder", "InterventionConfig",
    "InterventionRecord", "InterventionWrapper", "Interval", "Mode", "ModeSwitch", "PedalModes",
    "ScheduledModes", "SharedControlConfig", "VelocityResidual", "episode_paths", "read_episode",
]  # fmt: skip
