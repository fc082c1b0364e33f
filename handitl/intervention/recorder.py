"""Recorder of on-policy correction data D_corr, one HDF5 file per episode.

Every step of a rollout is kept, autonomous and intervention segments alike: the
observation, the policy's action, the executed action, the human input, the mode and the
intervention label (paper section 3.2: D_corr = {(o_t, a_exec_t)} + labels).

Crash safety: an episode is buffered in memory and written, when it ends (next
``reset``, ``end_episode`` or ``close``), to a temporary file that is fsynced and then
renamed into place. A killed process therefore loses at most the open episode; every
file named ``episode_*.h5`` is complete.

Layout of ``episode_<index>.h5`` (format ``handitl.episode`` version 1.0); N steps,
observation ``o_0..o_N`` (N + 1, the reset observation first):

================================  ==========================================================
``/attrs``                         format, format_version, metadata (JSON: task, seed, method,
                                   operator, env config, ...), num_steps
``/observations/<key>``            (N+1, ...) each observation entry (``images/<cam>`` uint8)
``/policy_action``                 (N, A) float64
``/executed_action``               (N, A) float64
``/mode``                          (N,) int8, :class:`Mode` values
``/intervention``                  (N,) bool, mode != AUTONOMOUS (the label I_t)
``/engaged``, ``/disengaged``      (N,) bool events
``/reward``                        (N,) float64
``/terminated``, ``/truncated``    (N,) bool
``/human/t``                       (N,) float64, NaN without a frame
``/human/<side>/wrist_pos``        (N, 3); ``wrist_quat`` (N, 4); ``wrist_valid`` (N,)
``/human/<side>/keypoints``        (N, 21, 3); ``valid`` (N, 21)
``/human/takeover``, ``copilot``   (N,) bool pedals
================================  ==========================================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from handitl.assets.hand_description import SIDES
from handitl.intervention.modes import Mode
from handitl.intervention.streams.frame import HumanFrame

FORMAT_NAME = "handitl.episode"
FORMAT_VERSION = "1.0"


class EpisodeError(ValueError):
    """An episode file is not a complete handitl episode."""


def _flatten(observation: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in observation.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = np.asarray(value)
    return out


class EpisodeRecorder:
    """Buffers steps and writes complete episodes atomically into ``directory``.

    Args:
        directory: where ``episode_<index>.h5`` files go (created if missing).
        metadata: stored with every episode (task, method, operator, ...); the seed
            passed to ``reset`` is added per episode.
    """

    def __init__(self, directory: str | Path, metadata: dict[str, Any] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.metadata = dict(metadata or {})
        existing = sorted(self.directory.glob("episode_*.h5"))
        self._next_index = (int(existing[-1].stem.split("_")[1]) + 1) if existing else 0
        self._steps: list[dict[str, Any]] | None = None
        self._observations: list[dict[str, np.ndarray]] = []
        self._seed: int | None = None
        self.written: list[Path] = []

    def begin_episode(self, seed: int | None, observation: dict[str, Any]) -> None:
        """Start buffering an episode (ends and writes any open one first)."""
        self.end_episode()
        self._steps = []
        self._observations = [_flatten(observation)]
        self._seed = seed

    def add_step(self, observation: dict[str, Any], record: Any, frame: HumanFrame | None,
                 reward: float, terminated: bool, truncated: bool) -> None:  # fmt: skip
        if self._steps is None:
            raise RuntimeError("add_step before begin_episode (reset the wrapper first)")
        self._observations.append(_flatten(observation))
        self._steps.append({"record": record, "frame": frame, "reward": float(reward),
                            "terminated": bool(terminated), "truncated": bool(truncated)})  # fmt: skip

    def end_episode(self) -> Path | None:
        """Write the open episode (if it has steps) and return its path."""
        if not self._steps:
            self._steps = None
            return None
        path = self.directory / f"episode_{self._next_index:06d}.h5"
        self._write(path)
        self._next_index += 1
        self._steps = None
        self.written.append(path)
        return path

    def close(self) -> None:
        self.end_episode()

    def _write(self, path: Path) -> None:
        steps = self._steps or []
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.directory)
        os.close(fd)
        try:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT_NAME
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["metadata"] = json.dumps({**self.metadata, "seed": self._seed}, default=str)
                f.attrs["num_steps"] = len(steps)
                obs = f.create_group("observations")
                for key in self._observations[0]:
                    obs.create_dataset(key, data=np.stack([o[key] for o in self._observations]),
                                       compression="gzip", compression_opts=4)  # fmt: skip
                records = [s["record"] for s in steps]
                f["policy_action"] = np.stack([r.policy_action for r in records])
                f["executed_action"] = np.stack([r.executed_action for r in records])
                f["mode"] = np.array([int(r.mode) for r in records], dtype=np.int8)
                f["intervention"] = np.array([r.mode is not Mode.AUTONOMOUS for r in records])
                f["engaged"] = np.array([r.engaged for r in records])
                f["disengaged"] = np.array([r.disengaged for r in records])
                f["reward"] = np.array([s["reward"] for s in steps])
                f["terminated"] = np.array([s["terminated"] for s in steps])
                f["truncated"] = np.array([s["truncated"] for s in steps])
                self._write_human(f.create_group("human"), [s["frame"] for s in steps])
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; episodes are shared data
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _write_human(group: h5py.Group, frames: list[HumanFrame | None]) -> None:
        n = len(frames)
        group["t"] = np.array([np.nan if f is None else f.t for f in frames])
        group["takeover"] = np.array([bool(f is not None and f.pedals.takeover) for f in frames])
        group["copilot"] = np.array([bool(f is not None and f.pedals.copilot) for f in frames])
        for side in SIDES:
            g = group.create_group(side.value)
            arrays = {"wrist_pos": np.full((n, 3), np.nan), "wrist_quat": np.full((n, 4), np.nan),
                      "wrist_valid": np.zeros(n, bool), "keypoints": np.full((n, 21, 3), np.nan),
                      "valid": np.zeros((n, 21), bool)}  # fmt: skip
            for i, frame in enumerate(frames):
                hand = None if frame is None else frame.hands[side]
                if hand is None:
                    continue
                arrays["wrist_pos"][i], arrays["wrist_quat"][i] = hand.wrist_pos, hand.wrist_quat
                arrays["wrist_valid"][i] = hand.wrist_valid
                arrays["keypoints"][i], arrays["valid"][i] = hand.keypoints, hand.valid
            for key, value in arrays.items():
                g.create_dataset(key, data=value, compression="gzip", compression_opts=4)


@dataclasses.dataclass(frozen=True)
class Episode:
    """An episode read back from disk (arrays as described in the module docstring)."""

    metadata: dict[str, Any]
    observations: dict[str, np.ndarray]
    policy_action: np.ndarray
    executed_action: np.ndarray
    mode: np.ndarray
    intervention: np.ndarray
    engaged: np.ndarray
    disengaged: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    human: dict[str, np.ndarray]

    @property
    def num_steps(self) -> int:
        return len(self.reward)


def read_episode(path: str | Path) -> Episode:
    """Read one episode file, checking its format; raises :class:`EpisodeError`."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT_NAME:
                raise EpisodeError(f"{path}: not a handitl episode (format {f.attrs.get('format')!r})")
            major = str(f.attrs.get("format_version", "0")).split(".")[0]
            if major != FORMAT_VERSION.split(".")[0]:
                raise EpisodeError(f"{path}: format version {f.attrs.get('format_version')} is not "
                                   f"readable by this handitl (reads {FORMAT_VERSION})")  # fmt: skip
            observations: dict[str, np.ndarray] = {}
            f["observations"].visititems(
                lambda name, node: observations.__setitem__(name, node[()])
                if isinstance(node, h5py.Dataset) else None)  # fmt: skip
            human: dict[str, np.ndarray] = {}
            f["human"].visititems(
                lambda name, node: human.__setitem__(name, node[()])
                if isinstance(node, h5py.Dataset) else None)  # fmt: skip
            return Episode(
                metadata=json.loads(f.attrs["metadata"]),
                observations=observations,
                **{k: f[k][()] for k in ("policy_action", "executed_action", "mode", "intervention",
                                          "engaged", "disengaged", "reward", "terminated",
                                          "truncated")},
                human=human,
            )  # fmt: skip
    except EpisodeError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise EpisodeError(f"{path}: unreadable episode ({type(exc).__name__}: {exc})") from None


def episode_paths(directory: str | Path) -> list[Path]:
    """Complete episode files of a directory, in order (temporary files are ignored)."""
    return sorted(Path(directory).glob("episode_*.h5"))
