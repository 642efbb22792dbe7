"""Every error the hub raises on purpose, each meant to be read by a person.

The CLI prints ``phonehub: error: <message>`` for any of these and exits 1, so a
message is one sentence that says what is wrong and, where it can, what to do.
"""


class PhoneHubError(Exception):
    """Base class of every error the hub explains to its user."""


class ConfigError(PhoneHubError):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        count = len(problems)
        head = f"{source} has {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n  " + "\n  ".join(problems))


class DatabaseError(PhoneHubError):
    """The database cannot be opened, migrated or written."""


class NumberError(PhoneHubError):
    """A phone number cannot be parsed or is of a kind the hub will not dial."""


class ImportFileError(PhoneHubError):
    """An MIS export cannot be read at all (as opposed to having bad rows)."""


class UserError(PhoneHubError):
    """A staff account cannot be created or changed as asked."""


class DialRefused(PhoneHubError):
    """The dial guard would not let a number be dialled; ``reason`` names the rule."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SpeechError(PhoneHubError):
    """A spoken prompt cannot be rendered to audio."""


class LineError(PhoneHubError):
    """The line daemon cannot start, or cannot carry out what it was asked."""


class ControlError(PhoneHubError):
    """The line daemon's control socket cannot be reached or refused a request."""


class QueueError(PhoneHubError):
    """A queue rule refused what was asked (claiming, an outcome, an assignment…)."""
