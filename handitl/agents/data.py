"""Datasets for policy learning: state vectors, action chunks, intervention labels.

Demonstrations (:mod:`handitl.agents.teleop`) and correction rollouts (the
:class:`~handitl.intervention.InterventionWrapper`'s recorder) share one file format
(:mod:`handitl.intervention.recorder`), so one loader reads both. A sample at step ``t``
of an episode is

* the state vector ``s_t``: the observation entries named by ``state_keys``, flattened
  and concatenated in that order (shape (S,));
* the action chunk ``a_t .. a_{t+H-1}`` of *executed* actions (shape (H, A)); past the
  episode's end the last action is repeated (the robot holds its final command);
* the intervention label ``c_t`` (True when a human commanded step ``t``);
* optionally the camera images of ``o_t`` (``image_keys``: camera names, recorded as
  ``images/<camera>`` when the env had ``image_cameras``): (C, h, w, 3) uint8, kept as
  uint8 (a 64x64 image is 12 kB; as float it would be four times that).

Normalisation statistics (per-dimension mean and std of states and of actions) are
computed once from the training data and travel with the checkpoint, so a policy sees
at deployment exactly the scaling it was trained with. This module needs only numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handitl.intervention.recorder import episode_paths, read_episode

DEFAULT_STATE_KEYS: tuple[str, ...] = (
    "arm_qpos",
    "palm_pos",
    "palm_quat",
    "hand_qpos",
    "fingertip_pos",
    "task_state",
)
"""Observation entries of the default state vector: proprioception plus the task's
privileged object state (velocities are left out: they are noisy and add little)."""


def state_vector(observation: Mapping[str, Any], keys: Sequence[str] = DEFAULT_STATE_KEYS) -> np.ndarray:
    """(S,) float64 state vector of one env observation."""
    return np.concatenate([np.asarray(observation[k], dtype=np.float64).ravel() for k in keys])


def stacked_images(observations: Mapping[str, np.ndarray], cameras: Sequence[str]) -> np.ndarray:
    """(T, C, h, w, 3) uint8 images of stacked observations (recorded ``images/<camera>``)."""
    missing = [c for c in cameras if f"images/{c}" not in observations]
    if missing:
        recorded = sorted(k.split("/", 1)[1] for k in observations if k.startswith("images/"))
        raise KeyError(
            f"camera images {missing} not in the episode (recorded cameras: {recorded or 'none'}; "
            "record with EnvConfig.image_cameras)"
        )
    images = [np.asarray(observations[f"images/{c}"]) for c in cameras]
    shapes = {im.shape[1:] for im in images}
    if len(shapes) != 1 or images[0].ndim != 4 or images[0].shape[-1] != 3 or images[0].dtype != np.uint8:
        raise ValueError(f"camera images must be uint8 (T, h, w, 3) of one size, got {sorted(shapes)}")
    return np.stack(images, axis=1)


def stacked_states(
    observations: Mapping[str, np.ndarray], keys: Sequence[str] = DEFAULT_STATE_KEYS
) -> np.ndarray:
    """(T, S) state vectors of stacked observations (leading time axis), as
    :func:`state_vector` orders them."""
    missing = [k for k in keys if k not in observations]
    if missing:
        raise KeyError(f"observation entries {missing} not in the episode ({sorted(observations)})")
    n = len(observations[keys[0]])
    return np.concatenate(
        [np.asarray(observations[k], dtype=np.float64).reshape(n, -1) for k in keys], axis=1
    )


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """Per-dimension affine scaling ``(x - mean) / std`` (float64 statistics).

    Dimensions that barely vary (std below ``min_std``) keep scale 1, so constant
    entries (a fixed joint, an unused goal) are centred rather than blown up. The floor
    is absolute because every entry is in m, rad or unit-quaternion components: below
    ~1 cm / 0.01 rad the spread of a dimension is tremor and servo noise (an idle arm in
    a teleop demo), and scaling it to unit variance made 50-sigma outliers that stalled
    flow-matching training.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, min_std: float = 1e-2) -> Normalizer:
        """Statistics of ``x`` (N, D) over its first axis."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std < min_std, 1.0, std))

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def denormalize(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[float]]) -> Normalizer:
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class Normalization:
    """The state and action scalings of a policy and the observation layout it reads
    (stored in its checkpoint): the state entries and, for a vision policy, the cameras
    and their image size (images are scaled to [-0.5, 0.5] by the encoder itself)."""

    state: Normalizer
    action: Normalizer
    state_keys: tuple[str, ...] = DEFAULT_STATE_KEYS
    image_keys: tuple[str, ...] = ()
    """Camera names, in the order the model's encoders take them (empty: state only)."""
    image_size: tuple[int, int] | None = None
    """(height, width) of the images (``EnvConfig.image_size`` of the env to act in)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "action": self.action.to_dict(),
            "state_keys": list(self.state_keys),
            "image_keys": list(self.image_keys),
            "image_size": None if self.image_size is None else list(self.image_size),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Normalization:
        size = d.get("image_size")
        return cls(
            Normalizer.from_dict(d["state"]),
            Normalizer.from_dict(d["action"]),
            tuple(d["state_keys"]),
            tuple(d.get("image_keys", ())),
            None if size is None else (int(size[0]), int(size[1])),
        )


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One episode as policy-learning arrays (N steps).

    Attributes:
        states: (N, S) state vectors of the observations the actions were chosen from.
        actions: (N, A) executed actions.
        intervention: (N,) bool, a human commanded the step.
        success: the episode ended in task success (None when not recorded).
        source: where it came from (a file path), for messages.
        images: (N, C, h, w, 3) uint8 camera images of the same observations, or None.
    """

    states: np.ndarray
    actions: np.ndarray
    intervention: np.ndarray
    success: bool | None = None
    source: str = ""
    images: np.ndarray | None = None

    @property
    def num_steps(self) -> int:
        return len(self.actions)

    def after_last_intervention(self) -> Trajectory | None:
        """The segment from the start of the last intervention to the episode's end
        (DexHiL's filtered correction data); None without any intervention."""
        idx = np.flatnonzero(self.intervention)
        if len(idx) == 0:
            return None
        start = int(idx[-1])
        while start > 0 and self.intervention[start - 1]:
            start -= 1
        return dataclasses.replace(
            self,
            states=self.states[start:],
            actions=self.actions[start:],
            intervention=self.intervention[start:],
            images=None if self.images is None else self.images[start:],
        )


def load_trajectory(
    path: str | Path, state_keys: Sequence[str] = DEFAULT_STATE_KEYS, image_keys: Sequence[str] = ()
) -> Trajectory:
    """Read one recorded episode (demo or correction rollout) as a :class:`Trajectory`;
    ``image_keys`` names the cameras whose images to load (none by default)."""
    episode = read_episode(path)
    try:  # o_N follows the last action
        states = stacked_states(episode.observations, state_keys)[:-1]
        images = stacked_images(episode.observations, image_keys)[:-1] if image_keys else None
    except KeyError as exc:
        raise KeyError(f"{path}: {exc.args[0]}") from None
    success = episode.metadata.get("success")
    return Trajectory(
        states,
        np.asarray(episode.executed_action, dtype=np.float64),
        np.asarray(episode.intervention, dtype=bool),
        None if success is None else bool(success),
        str(path),
        images,
    )


def load_trajectories(
    sources: Iterable[str | Path],
    state_keys: Sequence[str] = DEFAULT_STATE_KEYS,
    last_intervention_only: bool = False,
    demonstrations: bool = False,
    image_keys: Sequence[str] = (),
) -> list[Trajectory]:
    """All episodes of ``sources`` (episode files or directories of them).

    ``last_intervention_only`` keeps, of each episode with interventions, only the
    segment from its last intervention to completion; episodes without interventions
    are kept whole. ``demonstrations`` marks the episodes as offline data: every label
    False, although a teleoperator drove them in takeover mode (the label means "a
    human correction of a running policy", the category DexHiL reweights).
    """
    paths: list[Path] = []
    for source in sources:
        p = Path(source)
        found = episode_paths(p) if p.is_dir() else [p]
        if not found:
            raise FileNotFoundError(f"no episode_*.h5 files in {p}")
        paths.extend(found)
    out = []
    for path in paths:
        traj = load_trajectory(path, state_keys, image_keys)
        if demonstrations:
            traj = dataclasses.replace(traj, intervention=np.zeros(traj.num_steps, bool))
        elif last_intervention_only:
            traj = traj.after_last_intervention() or traj
        out.append(traj)
    return out


@dataclasses.dataclass(frozen=True)
class ChunkSamples:
    """Training samples (M of them) cut from trajectories, in physical units.

    Attributes:
        states: (M, S) float64 state vectors.
        chunks: (M, H, A) float64 executed action chunks.
        labels: (M,) bool intervention labels of the chunks' first steps.
        success: (M,) bool, the sample's episode ended in success (False when unknown).
        images: (M, C, h, w, 3) uint8 camera images of the states' observations, or None.
    """

    states: np.ndarray
    chunks: np.ndarray
    labels: np.ndarray
    success: np.ndarray
    images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.states)

    @property
    def horizon(self) -> int:
        return self.chunks.shape[1]

    def subset(self, mask: np.ndarray) -> ChunkSamples:
        images = None if self.images is None else self.images[mask]
        return ChunkSamples(
            self.states[mask], self.chunks[mask], self.labels[mask], self.success[mask], images
        )

    def fit_normalization(
        self, state_keys: Sequence[str] = DEFAULT_STATE_KEYS, image_keys: Sequence[str] = ()
    ) -> Normalization:
        """Statistics of these samples' states and of every action in their chunks;
        ``image_keys`` names the cameras of :attr:`images` (their size is read off)."""
        if bool(image_keys) != (self.images is not None) or (
            self.images is not None and self.images.shape[1] != len(image_keys)
        ):
            have = 0 if self.images is None else self.images.shape[1]
            raise ValueError(f"image_keys {list(image_keys)} do not match the samples' {have} camera(s)")
        actions = self.chunks.reshape(-1, self.chunks.shape[-1])
        size = None if self.images is None else (int(self.images.shape[2]), int(self.images.shape[3]))
        return Normalization(
            Normalizer.fit(self.states), Normalizer.fit(actions), tuple(state_keys), tuple(image_keys), size
        )

    def normalized(self, norm: Normalization) -> tuple[np.ndarray, np.ndarray]:
        """float32 (M, S) normalised states and (M, H, A) normalised chunks."""
        return (
            norm.state.normalize(self.states).astype(np.float32),
            norm.action.normalize(self.chunks).astype(np.float32),
        )


def action_chunks(actions: np.ndarray, horizon: int) -> np.ndarray:
    """(N, H, A) chunks ``actions[t:t+H]``, the last action repeated past the end."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n = len(actions)
    idx = np.minimum(np.arange(n)[:, None] + np.arange(horizon)[None, :], n - 1)
    return actions[idx]


def chunk_samples(trajectories: Sequence[Trajectory], horizon: int) -> ChunkSamples:
    """One sample per step of every trajectory (see the module docstring)."""
    trajectories = [t for t in trajectories if t.num_steps > 0]
    if not trajectories:
        raise ValueError("no steps in the given trajectories")
    dims = {(t.states.shape[1], t.actions.shape[1]) for t in trajectories}
    if len(dims) != 1:
        raise ValueError(f"trajectories differ in state/action sizes: {sorted(dims)}")
    return ChunkSamples(
        states=np.concatenate([t.states for t in trajectories]),
        chunks=np.concatenate([action_chunks(t.actions, horizon) for t in trajectories]),
        labels=np.concatenate([t.intervention for t in trajectories]),
        success=np.concatenate([np.full(t.num_steps, bool(t.success)) for t in trajectories]),
        images=_concat_images([t.images for t in trajectories]),
    )


def _concat_images(parts: Sequence[np.ndarray | None]) -> np.ndarray | None:
    if all(p is None for p in parts):
        return None
    if any(p is None for p in parts):
        raise ValueError("some datasets have camera images and some do not")
    shapes = {p.shape[1:] for p in parts if p is not None}
    if len(shapes) != 1:
        raise ValueError(f"camera images differ in cameras or size: {sorted(shapes)}")
    return np.concatenate(parts)  # type: ignore[arg-type]


def concat_samples(parts: Sequence[ChunkSamples]) -> ChunkSamples:
    """Samples of several datasets in one (same state, horizon and action sizes)."""
    fields = [f.name for f in dataclasses.fields(ChunkSamples) if f.name != "images"]
    return ChunkSamples(
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in fields},
        images=_concat_images([p.images for p in parts]),
    )


__all__ = [
    "DEFAULT_STATE_KEYS",
    "ChunkSamples",
    "Normalization",
    "Normalizer",
    "Trajectory",
    "action_chunks",
    "chunk_samples",
    "concat_samples",
    "load_trajectories",
    "load_trajectory",
    "stacked_images",
    "stacked_states",
    "state_vector",
]
