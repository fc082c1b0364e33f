"""Dimensions, joint limits, gains and masses of the procedural 21-DoF hand.

All lengths are in metres at :attr:`ProceduralHandConfig.scale` = 1 and describe a RIGHT
hand in its palm frame (origin at the wrist keypoint, +z toward the middle-finger MCP,
+x palmar normal, +y toward the thumb); the builder mirrors them for a left hand.
Angles are radians, masses kg, gains Nm/rad, torques Nm.

Sources (approximate; this is a simulation hand, not a biomechanical model):

* Segment lengths: Buchholz, Armstrong & Goldstein (1992), "Anthropometric data for
  describing the kinematics of the human hand", Ergonomics 35(3):261-273, segment
  length as a fraction of hand length (joint centre to joint centre; distal segments to
  the fingertip).
* Hand length and breadth: ~0.187 m and ~0.087 m for an average adult male (ANSUR-type
  surveys, rounded), scaled 1.1x so that the capsule fingers of a robot hand have room.
* Joint ranges: typical active range of motion of adults (e.g. Hume et al. 1990, AAOS),
  trimmed where capsule geometry would self-intersect.
* Gains, force limits, armature, damping, pad sizes: ``shared/docs/physics_notes.md``
  (measured with a hand of this size on these machines).
"""

from __future__ import annotations

import math

# ---------------------------------------------------------------------------------------
# Overall size
# ---------------------------------------------------------------------------------------
ADULT_MALE_HAND_LENGTH = 0.187
"""Wrist crease to middle fingertip of an average adult male, m (ANSUR-type surveys, rounded)."""
SIZE_FACTOR = 1.1
"""Robot hand is 1.1x human size (physics_notes.md: capsule hands of this size hold)."""
HAND_LENGTH = SIZE_FACTOR * ADULT_MALE_HAND_LENGTH
"""Wrist keypoint to middle fingertip at the zero pose, m (~0.206)."""

# Buchholz et al. 1992 segment lengths / hand length: (proximal, middle, distal) phalanx.
# The thumb's entries are (metacarpal, proximal, distal).
SEGMENT_RATIOS: dict[str, tuple[float, float, float]] = {
    "thumb": (0.251, 0.196, 0.158),  # Buchholz 1992, thumb MC/PP/DP
    "index": (0.245, 0.143, 0.097),  # Buchholz 1992, index PP/MP/DP
    "middle": (0.266, 0.170, 0.108),  # Buchholz 1992, middle PP/MP/DP
    "ring": (0.244, 0.165, 0.107),  # Buchholz 1992, ring PP/MP/DP
    "little": (0.204, 0.117, 0.093),  # Buchholz 1992, little PP/MP/DP
}

MIDDLE_MCP_Z = HAND_LENGTH * (1.0 - sum(SEGMENT_RATIOS["middle"]))
"""Wrist to middle MCP centre, m: chosen so that the middle fingertip lies at HAND_LENGTH."""
MCP_Z_OFFSET: dict[str, float] = {
    "index": -0.004,  # index knuckle slightly proximal of the middle one (knuckle arc)
    "middle": 0.0,  # reference
    "ring": -0.006,  # ring MC is ~10% shorter than the middle MC (Buchholz 1992)
    "little": -0.017,  # little MC is ~20% shorter than the middle MC (Buchholz 1992)
}
"""MCP centre z relative to the middle MCP, m."""
FINGER_SPACING = 0.024
"""Lateral distance between neighbouring MCP centres, m: (1.1 x 0.087 m breadth - edges) / 3."""
MCP_Y: dict[str, float] = {
    "index": 1.0 * FINGER_SPACING,  # radial-most finger, toward the thumb (+y)
    "middle": 0.0,  # the palm frame's +z points from the wrist at the middle MCP
    "ring": -1.0 * FINGER_SPACING,
    "little": -2.0 * FINGER_SPACING,
}
"""MCP centre y (right hand), m. The middle MCP lies on the palm frame's z axis by the
palm-frame convention (``hand_description``); the hand's breadth is unchanged."""
MCP_X = 0.0
"""MCP centres lie in the palm's mid-plane (joint centres are mid-thickness)."""

# ---------------------------------------------------------------------------------------
# Thumb base
# ---------------------------------------------------------------------------------------
THUMB_CMC_POS = (0.012, 0.008, 0.030)
"""Thumb CMC centre (right hand), m: at the distal carpal row (~3 cm past the wrist at 1.1x),
palmar of the mid-plane (thenar) and radial of the middle finger."""
THUMB_SPREAD = math.radians(40.0)
"""Zero-pose angle of the thumb metacarpal from +z toward +y (flat-hand thumb spread)."""
THUMB_PALMAR_TILT = math.radians(10.0)
"""Zero-pose tilt of the thumb metacarpal out of the palm plane toward +x (thenar bulge)."""
THUMB_PRONATION = math.radians(90.0)
"""Axial rotation of the thumb relative to the fingers at rest (~90 deg, Kapandji): its
pad faces the fingers (-y), its nail faces radially."""
THUMB_CMC_ABD_PRONATION_COUPLING = math.radians(50.0)
"""Tilt of the CMC abduction axis from the pad normal toward the bone: as the thumb lifts
out of the palm it also pronates, as the saddle joint does; 50 deg puts the axis roughly
along the index metacarpal. Chosen (with the rest pose) so that a least-squares fit finds
pad-to-pad index pinches inside the joint ranges."""

# ---------------------------------------------------------------------------------------
# Capsule radii, m (1.1x adult finger breadths of ~21/19/17 mm at PP/MP/DP, halved)
# ---------------------------------------------------------------------------------------
SEGMENT_RADII: dict[str, tuple[float, float, float]] = {
    "thumb": (0.0130, 0.0110, 0.0100),  # metacarpal radius includes the thenar eminence
    "index": (0.0105, 0.0095, 0.0085),  # ~23/21/19 mm wide at 1.1x
    "middle": (0.0105, 0.0095, 0.0085),  # as index
    "ring": (0.0100, 0.0090, 0.0082),  # slightly narrower than the middle finger
    "little": (0.0090, 0.0080, 0.0075),  # ~0.85x the index
}

PALM_HALF_THICKNESS = 0.014
"""Half of the palm's dorsal-palmar thickness, m (1.1x ~26 mm at the metacarpals)."""
PALM_EDGE_MARGIN = 0.002
"""Palm box extends this far past the outer MCP capsules' radii, m (keeps edges inside skin)."""

# ---------------------------------------------------------------------------------------
# Fingertip pads (physics_notes.md: flat pads are what make pinches hold)
# ---------------------------------------------------------------------------------------
PAD_PROTRUSION = 0.0015
"""How far the pad's contact face lies past the distal capsule's surface, m (physics_notes)."""
PAD_HALF_WIDTH_RATIO = 0.7
"""Pad half-size across the finger / distal radius (physics_notes: ~0.7 r)."""
PAD_HALF_THICKNESS_RATIO = 0.35
"""Pad half-size along the palmar normal / distal radius (physics_notes: ~0.35 r)."""
PAD_HALF_LENGTH_RATIO = 0.33
"""Pad half-size along the finger / distal segment length (physics_notes: ~0.33 L)."""
PAD_MASS = 0.002
"""Pad mass, kg: small; the pad is skin on the distal phalanx."""

# ---------------------------------------------------------------------------------------
# Joint ranges, rad (adult active ROM, rounded)
# ---------------------------------------------------------------------------------------
# Sign conventions (both hands; see procedural_hand.py): flexion > 0 curls toward the palm
# (+x); finger abduction > 0 spreads the finger away from the middle finger (the middle
# finger itself abducts toward the thumb); thumb *_abd > 0 lifts the thumb palmar, out of
# the palm plane; thumb_cmc_flex > 0 swings it across the palm toward the little finger.
JOINT_RANGES: dict[str, tuple[float, float]] = {
    "thumb_cmc_abd": (-0.30, 1.60),  # palmar abduction + coupled pronation; pad pinches use ~1.35
    "thumb_cmc_flex": (-0.50, 1.20),  # CMC flexion/extension ~50/25 deg, widened for opposition
    "thumb_mcp_abd": (-0.30, 0.30),  # small MCP radial/ulnar deviation
    "thumb_mcp_flex": (-0.20, 1.10),  # thumb MCP flexion ~55-60 deg, little hyperextension
    "thumb_ip": (-0.50, 1.40),  # flexion ~80 deg; ~30 deg hyperextension is common in pinch
    "index_abd": (-0.25, 0.35),  # MCP ab/adduction ~20 deg; adduction limited by neighbour
    "middle_abd": (-0.25, 0.25),  # middle finger deviates little
    "ring_abd": (-0.25, 0.30),
    "little_abd": (-0.25, 0.50),  # little finger spreads the most
    "index_mcp": (-0.35, 1.57),  # MCP flexion 90 deg, hyperextension ~20 deg
    "middle_mcp": (-0.35, 1.57),
    "ring_mcp": (-0.35, 1.57),
    "little_mcp": (-0.35, 1.57),
    "index_pip": (0.0, 1.75),  # PIP flexion ~100 deg, no hyperextension
    "middle_pip": (0.0, 1.75),
    "ring_pip": (0.0, 1.75),
    "little_pip": (0.0, 1.75),
    "index_dip": (-0.10, 1.40),  # DIP flexion ~80 deg, slight hyperextension
    "middle_dip": (-0.10, 1.40),
    "ring_dip": (-0.10, 1.40),
    "little_dip": (-0.10, 1.40),
}

# ---------------------------------------------------------------------------------------
# Servos and joint dynamics (physics_notes.md, "finger joints")
# ---------------------------------------------------------------------------------------
SERVO_KP: dict[str, float] = {
    "abd": 3.0,  # physics_notes: finger abduction
    "mcp": 6.0,  # physics_notes: finger MCP flexion
    "pip": 4.0,  # physics_notes: PIP
    "dip": 2.5,  # physics_notes: DIP
    "thumb_cmc": 8.0,  # physics_notes: thumb CMC (both axes)
    "thumb_mcp": 5.0,  # physics_notes: thumb MCP (both axes)
    "thumb_ip": 3.0,  # physics_notes: thumb IP
}
"""Position-servo stiffness by joint kind, Nm/rad."""
SERVO_FORCE_LIMIT: dict[str, float] = {
    "abd": 0.8,  # physics_notes; doubling limits squeezes objects out
    "mcp": 2.0,  # physics_notes
    "pip": 1.2,  # physics_notes
    "dip": 0.6,  # physics_notes
    "thumb_cmc": 3.0,  # physics_notes
    "thumb_mcp": 1.5,  # physics_notes
    "thumb_ip": 0.8,  # physics_notes
}
"""Servo torque limits by joint kind, Nm (symmetric)."""
JOINT_ARMATURE = 0.005
"""Reflected rotor inertia, kg m^2: middle of physics_notes' 0.001-0.01; stabilises light phalanges."""
JOINT_DAMPING = 0.1
"""Joint viscous damping, Nm s/rad: middle of physics_notes' 0.05-0.2."""

# ---------------------------------------------------------------------------------------
# Masses, kg (total ~0.6 kg: a human hand is ~0.4-0.5 kg; robot fingers carry drives)
# ---------------------------------------------------------------------------------------
PALM_MASS = 0.30
"""Palm boxes together, kg: about half the hand, as the palm is in human segment data."""
SEGMENT_MASSES: dict[str, tuple[float, float, float]] = {
    "thumb": (0.045, 0.025, 0.015),  # thenar metacarpal is the heaviest thumb segment
    "index": (0.030, 0.015, 0.010),  # proximal > middle > distal, roughly by volume
    "middle": (0.032, 0.017, 0.011),
    "ring": (0.028, 0.015, 0.010),
    "little": (0.020, 0.010, 0.008),
}

# ---------------------------------------------------------------------------------------
# Colours (RGBA)
# ---------------------------------------------------------------------------------------
RGBA_PALM = (0.80, 0.62, 0.52, 1.0)  # skin tone
RGBA_PHALANX = (0.86, 0.70, 0.60, 1.0)  # slightly lighter than the palm
RGBA_THUMB = (0.83, 0.66, 0.56, 1.0)  # between palm and fingers, to tell the thumb apart
RGBA_PAD = (0.60, 0.30, 0.30, 1.0)  # dark red: pads are visible in renders
RGBA_SITE = (0.1, 0.6, 0.9, 1.0)  # keypoint sites (visualisation only)
