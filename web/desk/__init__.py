"""The call desk: staff take the next household, call it, and record what happened.

Staff see who and why, never a full number: each number is a button labelled
"Mum · mobile ••• 123", and the line daemon reads the number itself. The call's
state is pushed to the page as the line's events arrive (``/desk/events``, fed by
web/live.py), starting with the call as it is now. A card shown afresh asks the
line which call it has up, so a reload never loses a call. An outcome is required
before the next card, and the next page says what was saved.

One blueprint, in four modules: ``common`` (the blueprint and what the others share),
``cards`` (the pages), ``calling`` (placing and controlling a call, and its live
state) and ``outcome`` (recording how it went).
"""

from web.desk import calling, cards, outcome
from web.desk.common import bp

__all__ = ["bp", "calling", "cards", "outcome"]
