"""Hand retargeting: human keypoints -> robot hand joint targets, for any hand.

Four methods behind one protocol (:class:`Retargeter`): relative (HandITL Eq. 1-2),
absolute (DexPilot-style, the "Teleop"/direct-switching baseline), DeltaCmd and
Jacobian.
"""

from handitl.retarget.absolute import AbsoluteConfig, AbsoluteRetargeter
from handitl.retarget.base import (
                                   Alignment,
                                   Retargeter,
                                   RetargetError,
                                   RetargetResult,
                                   calibrate_alignment,  # fmt: skip
)
from handitl.retarget.delta import DeltaCmdRetargeter
from handitl.retarget.jacobian import JacobianConfig, JacobianRetargeter
from handitl.retarget.kinematics import HandKinematics
from handitl.retarget.relative import RelativeConfig, RelativeRetargeter

METHODS = {
    "direct": AbsoluteRetargeter,
    "delta": DeltaCmdRetargeter,
    "jacobian": JacobianRetargeter,
    "relative": RelativeRetargeter,
}
"""Method names used by experiments and configs -> retargeter classes."""

__all__ = [
    "METHODS", "AbsoluteConfig", "AbsoluteRetargeter", "Alignment", "DeltaCmdRetargeter",
    "HandKinematics", "JacobianConfig", "JacobianRetargeter", "RelativeConfig",
    "RelativeRetargeter", "RetargetError", "RetargetResult", "Retargeter", "calibrate_alignment",
]  # fmt: skip
