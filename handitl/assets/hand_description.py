"""The hand abstraction: what retarget/ and envs/ need to know about any robot hand.

A hand asset is an :class:`mujoco.MjSpec` whose root body can be attached to an arm
flange, plus a :class:`HandDescription` naming its parts. Code outside ``assets/``
talks to hands only through these names, so the procedural 21-DoF hand, the Shadow
hand and URDF hands (LEAP, Allegro) are interchangeable.

Conventions (all hands, after the asset builder has added its sites):

* Palm frame (site ``palm_site``): origin at the wrist keypoint; +z points from the
  wrist toward the middle-finger MCP (finger direction); +x is the palmar normal
  (out of the palm, the side fingers flex toward); +y = z x x, which points toward the
  thumb on a right hand and away from it on a left hand. A left hand is the mirror
  image of a right hand in the palm frame's y axis.
* Keypoints follow the MediaPipe order (:data:`KEYPOINT_NAMES`); a keypoint the
  hand's anatomy lacks (the little finger of a four-finger hand) is ``None``.
* Joint angles are in radians, in ``joint_names`` order, which is also the order of
  ``actuator_names`` (one position servo per actuated joint).
"""

from __future__ import annotations

import dataclasses
import enum

import mujoco

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")
"""Finger names in MediaPipe order."""

KEYPOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
)  # fmt: skip
"""The 21 MediaPipe hand landmarks, in MediaPipe's index order."""

FINGERTIP_KEYPOINT_INDEX: dict[str, int] = {f: KEYPOINT_NAMES.index(f"{f}_tip") for f in FINGERS}


class Side(str, enum.Enum):
    """Which hand. The value is the name prefix used in the bimanual scene."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def mirror_sign(self) -> float:
        """+1 for a right hand, -1 for a left hand (sign of palm-frame y)."""
        return 1.0 if self is Side.RIGHT else -1.0


SIDES: tuple[Side, ...] = (Side.LEFT, Side.RIGHT)
"""Side order of actions and observations (a tuple: iterating the Enum is slower)."""


class HandDescriptionError(ValueError):
    """A hand description names something the model does not have, or is malformed."""


@dataclasses.dataclass(frozen=True)
class HandDescription:
    """Names of a hand's parts inside its MjSpec (or inside a scene after attaching).

    All names are full MuJoCo element names. :meth:`with_prefix` returns the names a
    hand gets when its spec is attached with ``MjSpec.attach(prefix=...)``.
    """

    model_name: str
    """Which hand this is, e.g. ``"procedural21"``, ``"leap"``, ``"shadow"``."""
    side: Side
    root_body: str
    """Body whose subtree is the hand; it is attached to the arm flange."""
    joint_names: tuple[str, ...]
    """Actuated joints (hinges), radians; the order of hand joint targets."""
    actuator_names: tuple[str, ...]
    """Position servos, one per entry of ``joint_names`` and in the same order."""
    keypoint_sites: tuple[str | None, ...]
    """21 sites in MediaPipe order; ``None`` where the hand lacks that keypoint."""
    fingertip_sites: tuple[str | None, ...]
    """5 contact-pad sites in :data:`FINGERS` order; ``None`` for a missing finger."""
    palm_site: str
    """Site carrying the palm frame (see module docstring)."""
    collision_pairs: tuple[tuple[str, str], ...] = ()
    """Geom name pairs that must not collide (used by the retargeting safety term)."""

    def __post_init__(self) -> None:
        if len(self.keypoint_sites) != len(KEYPOINT_NAMES):
            raise HandDescriptionError(
                f"{self.model_name}: keypoint_sites has {len(self.keypoint_sites)} entries, "
                f"expected {len(KEYPOINT_NAMES)} (MediaPipe order, None for absent)"
            )
        if len(self.fingertip_sites) != len(FINGERS):
            raise HandDescriptionError(
                f"{self.model_name}: fingertip_sites has {len(self.fingertip_sites)} entries, "
                f"expected {len(FINGERS)} ({', '.join(FINGERS)})"
            )
        if len(self.joint_names) != len(self.actuator_names):
            raise HandDescriptionError(
                f"{self.model_name}: {len(self.joint_names)} joints but "
                f"{len(self.actuator_names)} actuators; need one servo per joint"
            )

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def fingers_present(self) -> tuple[str, ...]:
        """Fingers this hand has, in :data:`FINGERS` order."""
        return tuple(f for f, s in zip(FINGERS, self.fingertip_sites) if s is not None)

    @property
    def keypoint_mask(self) -> tuple[bool, ...]:
        """True where the hand has the MediaPipe keypoint."""
        return tuple(s is not None for s in self.keypoint_sites)

    def with_prefix(self, prefix: str) -> HandDescription:
        """Names after ``MjSpec.attach(hand_spec, prefix=prefix)``."""

        def p(name: str | None) -> str | None:
            return None if name is None else prefix + name

        return dataclasses.replace(
            self,
            root_body=prefix + self.root_body,
            joint_names=tuple(prefix + n for n in self.joint_names),
            actuator_names=tuple(prefix + n for n in self.actuator_names),
            keypoint_sites=tuple(p(n) for n in self.keypoint_sites),
            fingertip_sites=tuple(p(n) for n in self.fingertip_sites),
            palm_site=prefix + self.palm_site,
            collision_pairs=tuple((prefix + a, prefix + b) for a, b in self.collision_pairs),
        )

    def validate(self, model: mujoco.MjModel) -> None:
        """Raise :class:`HandDescriptionError` if ``model`` lacks a named element."""
        checks: list[tuple[mujoco.mjtObj, str]] = [(mujoco.mjtObj.mjOBJ_BODY, self.root_body)]
        checks += [(mujoco.mjtObj.mjOBJ_JOINT, n) for n in self.joint_names]
        checks += [(mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in self.actuator_names]
        sites = [self.palm_site, *self.keypoint_sites, *self.fingertip_sites]
        checks += [(mujoco.mjtObj.mjOBJ_SITE, n) for n in sites if n is not None]
        checks += [(mujoco.mjtObj.mjOBJ_GEOM, n) for pair in self.collision_pairs for n in pair]
        missing = [f"{obj.name[6:].lower()} '{name}'" for obj, name in checks
                   if mujoco.mj_name2id(model, obj, name) < 0]  # fmt: skip
        if missing:
            raise HandDescriptionError(
                f"{self.model_name} ({self.side.value}) names elements the model lacks: "
                + ", ".join(missing)
            )


@dataclasses.dataclass
class HandAsset:
    """A hand model ready to compile or attach: its spec and the names of its parts."""

    spec: mujoco.MjSpec
    description: HandDescription
