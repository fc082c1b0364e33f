"""Device drivers: interfaces (:mod:`.base`), the FR3 over franky, ZeroMQ hands."""

from handitl.real.drivers.base import (
    Actuator,
    ArmDriver,
    DriverError,
    HandDriver,
    JointCommand,
    JointState,
    Pedal,
    PedalReading,
    PedalSourceAdapter,
    Sensor,
    TeleopSource,
)

__all__ = [
    "Actuator", "ArmDriver", "DriverError", "HandDriver", "JointCommand", "JointState", "Pedal",
    "PedalReading", "PedalSourceAdapter", "Sensor", "TeleopSource",
]  # fmt: skip
