"""The school's spoken messages in the languages its families speak at home.

English comes from the config (``[speech]``). For any other language an office admin
writes the school's own wording of the voicemail message and the recording notice
(the hub never translates anything), and espeak-ng speaks it in that language's
voice, where this hub's espeak-ng has one. A family whose home language has wording
hears it; every other family hears English.

    prompts = spoken.for_household(session, config, household_id)
    prompts.recording_notice, prompts.voicemail, prompts.language  # Path, Path, "pl"
"""

from __future__ import annotations

import functools
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, languages
from hub.config import Config
from hub.exceptions import PhoneHubError
from hub.models import Pupil, SpokenMessage, StaffUser
from hub.numbers import format_for_people
from hub.speech import SpeechCache

PLACEHOLDERS = ("school", "number")
MOST_CHARACTERS = 1000


class WordingError(PhoneHubError):
    """Wording the hub cannot speak, said in one sentence."""


@dataclass(frozen=True)
class Prompts:
    """A language's two prompts, rendered as 16 kHz WAV files; what the line plays."""

    recording_notice: Path
    voicemail: Path
    language: str = "en"  # ISO 639: what they are spoken in


@functools.cache
def voices() -> frozenset[str]:
    """The language voices this hub's espeak-ng has ("pl", "en-gb", …); empty without it."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        return frozenset()
    try:
        listed = subprocess.run([binary, "--voices"], capture_output=True, text=True,
                                timeout=10, check=False).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.split()[1] for line in listed.splitlines()[1:] if len(line.split()) > 1)


def speakable() -> list[languages.Language]:
    """The languages other than English that espeak-ng on this hub can speak."""
    have = voices()
    return [lang for lang in languages.LANGUAGES if not lang.english and lang.voice in have]


def render(config: Config, language: languages.Language, notice: str, message: str) -> Prompts:
    """Both prompts in ``language``'s voice, rendered (or found in the cache)."""
    speech = SpeechCache(Path(config.hub.data_dir) / "speech", language.voice, config.speech.rate)
    # "0 1 6 3 2, 9 6 0 …": digits one by one, grouped as people write them.
    groups = format_for_people(config.school.number).split() if config.school.number else []
    spoken_number = ", ".join(" ".join(group) for group in groups)
    text = message.format(school=config.school.name, number=spoken_number)
    return Prompts(speech.render(notice), speech.render(text), language.code)


def english(config: Config) -> Prompts:
    """The config's own prompts, in its voice: what every family hears unless told otherwise."""
    voice = languages.Language("en", "English", config.speech.voice)
    return render(config, voice, config.speech.recording_notice, config.speech.voicemail_message)


def for_household(session: Session, config: Config, household_id: int | None) -> Prompts | None:
    """The prompts in the family's home language, if the school has wording for it.

    None when the family's language is English, unknown to the hub, has no wording,
    or no voice on this hub: the caller uses English then.
    """
    if household_id is None:
        return None
    homes = session.scalars(select(Pupil.home_language).where(Pupil.household_id == household_id))
    language = languages.language_of(languages.family_language(homes))
    if language is None or language.english or language.voice not in voices():
        return None
    wording = session.get(SpokenMessage, language.code)
    if wording is None:
        return None
    return render(config, language, wording.recording_notice, wording.voicemail_message)


def check_wording(voicemail_message: str, recording_notice: str) -> None:
    """WordingError, in one sentence, if the two texts cannot be spoken as they are."""
    for what, text in (("voicemail message", voicemail_message),
                       ("recording notice", recording_notice)):  # fmt: skip
        if not text.strip():
            raise WordingError(f"Write the {what}; it cannot be empty.")
        if len(text) > MOST_CHARACTERS:
            raise WordingError(f"The {what} is too long: keep it under {MOST_CHARACTERS} letters.")
    stray = ("The voicemail message has a { or } that is not {school} or {number}; "
             "write {{ or }} for a brace.")  # fmt: skip
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(voicemail_message)
                 if name is not None}  # fmt: skip
        voicemail_message.format(**dict.fromkeys(names, ""))
    except (ValueError, IndexError, KeyError, AttributeError):
        raise WordingError(stray) from None
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise WordingError(
            f"The voicemail message can name only {{school}} and {{number}}, not "
            f"{', '.join('{' + name + '}' for name in unknown)}; write {{{{ or }}}} for a brace."
        )
    if "{" in recording_notice or "}" in recording_notice:
        raise WordingError("The recording notice cannot hold { or }: it names nothing.")


def save(session: Session, config: Config, code: str, voicemail_message: str,
         recording_notice: str, *, actor: StaffUser) -> Prompts:  # fmt: skip
    """Keep the school's wording for language ``code``, once espeak-ng has spoken it."""
    language = languages.by_code(code)
    if language.english:
        raise WordingError("English is the hub's own: change it in the config's [speech].")
    if language.voice not in voices():
        raise WordingError(f"This hub has no espeak-ng voice for {language.name}.")
    check_wording(voicemail_message, recording_notice)
    spoken = render(config, language, recording_notice, voicemail_message)
    found = session.get(SpokenMessage, code)
    if found is None:
        found = SpokenMessage(language=code)
        session.add(found)
    found.voicemail_message = voicemail_message
    found.recording_notice = recording_notice
    found.updated_by_id = actor.id
    audit.record(session, "spoken_message.saved", actor=actor, target_type="language",
                 detail={"language": code})  # fmt: skip
    return spoken


def remove(session: Session, code: str, *, actor: StaffUser) -> bool:
    """Forget the wording for ``code``: its families hear English again. False if none."""
    found = session.get(SpokenMessage, code)
    if found is None:
        return False
    session.delete(found)
    audit.record(session, "spoken_message.removed", actor=actor, target_type="language",
                 detail={"language": code})  # fmt: skip
    return True
