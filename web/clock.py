"""The panel's clock: the time now, which a test may set (``create_app({"CLOCK": ...})``).

Pages that depend on the day of the week (the positive-call reminder, reflections due a
few days after a call) ask here, so a test can be on a Friday afternoon any day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from hub.models import utcnow


def now() -> datetime:
    """The time now, in UTC: ``utcnow()`` unless the app was given a CLOCK."""
    clock: Callable[[], datetime] = current_app.config.get("CLOCK") or utcnow
    return clock()
