"""What other threads ask of the line: each command carries the future they wait on.

``Line.submit`` queues one for the SIP thread, which carries it out on its next
turn and sets ``done`` (an exception if it could not). A command about a call names
its attempt; None means the call on the hub's handset.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from hub.spoken import Prompts


@dataclass
class Dial:
    """Call ``callee`` for an attempt; record to ``recording`` if set."""

    attempt_id: int
    callee: str  # the dial string, already in the trunk's format
    recording: Path | None = None
    play_message: bool = False  # a test call: play the school's message, then hang up
    prompts: Prompts | None = None  # in the family's language; None: the line's own
    # Through the member of staff's own phone (its dial string), rung first, with the
    # whisper they hear on answering; None: on the hub's handset.
    own_phone: str | None = None
    whisper: Path | None = None
    done: Future[None] = field(default_factory=Future)


@dataclass
class Hangup:
    """End a call, as the member of staff asked."""

    attempt_id: int | None = None  # None: the handset's call
    done: Future[None] = field(default_factory=Future)


@dataclass
class Voicemail:
    """Play the school's message into the answered call, then hang up."""

    attempt_id: int | None = None
    done: Future[None] = field(default_factory=Future)


@dataclass
class Mute:
    """Stop (``on``) or restart sending the handset's microphone to the family."""

    on: bool
    attempt_id: int | None = None
    done: Future[None] = field(default_factory=Future)


@dataclass
class Keys:
    """Send ``keys`` (checked: 0-9, *, #, A-D) into the answered call, or its interpreter's."""

    keys: str
    attempt_id: int | None = None
    to_interpreter: bool = False
    done: Future[None] = field(default_factory=Future)


@dataclass
class Interpreter:
    """Join the interpreting service (``callee``, a dial string) to the call, or drop it (None)."""

    attempt_id: int | None
    callee: str | None
    done: Future[None] = field(default_factory=Future)


@dataclass
class HandsetChanged:
    """The handset watch's verdict: what is wrong with the handset, or None."""

    problem: str | None
    done: Future[None] = field(default_factory=Future)


Command = Dial | Hangup | Voicemail | Mute | Keys | Interpreter | HandsetChanged
