"""Every error hardware/ raises on purpose, each one sentence meant for a person.

hardware/ sits below the hub and knows nothing of it; the ``phonehub`` command
prints these as ``phonehub: error: <message>`` just as it does the hub's own.
"""


class HardwareError(Exception):
    """Base class of every error the hardware drivers explain to their user."""


class GpioError(HardwareError):
    """The status lights or the hang-up button cannot be driven."""
