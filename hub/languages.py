"""The languages families speak at home, as the MIS writes them, and the voices for them.

SIMS and Arbor export a pupil's home or first language as an English name ("Polish"),
the DfE's code ("POL"), or now and then a name of the school's own ("Polish (Polski)").
``language_of`` reads each of them as one ``Language``; a value it does not know is
kept and shown as written, but has no spoken messages of its own.

The ``voice`` is the espeak-ng voice that speaks it ("" where espeak-ng has none);
whether this hub's espeak-ng really has it is asked of espeak-ng (``hub.speech``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """A language by its ISO 639 code, with its English name and espeak-ng voice."""

    code: str
    name: str
    voice: str

    @property
    def english(self) -> bool:
        """Whether this is English, which every prompt is in to begin with."""
        return self.code == "en"


# code, English name, espeak-ng voice, and other ways MIS exports write it (the DfE's
# codes for the languages most spoken in English schools, and the names in the language).
# fmt: off
_TABLE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("en", "English", "en-gb", ("eng", "enb", "english british", "believed to be english")),
    ("sq", "Albanian", "sq", ("alb", "shqip")),
    ("am", "Amharic", "am", ("amh",)),
    ("ar", "Arabic", "ar", ("ara", "arabic any other", "arabic other")),
    ("bn", "Bengali", "bn", ("bng", "bangla", "bengali any other", "sylheti", "bngs")),
    ("bg", "Bulgarian", "bg", ("bul",)),
    ("yue", "Cantonese", "yue", ("chic", "chinese cantonese")),
    ("cmn", "Mandarin", "cmn", ("chim", "chinese mandarin", "chinese", "chi", "putonghua")),
    ("hr", "Croatian", "hr", ("scrc",)),
    ("cs", "Czech", "cs", ("cze",)),
    ("nl", "Dutch", "nl", ("dut", "flemish")),
    ("fa", "Persian", "fa", ("per", "farsi", "pers", "dari")),
    ("fr", "French", "fr-fr", ("fre", "frn", "francais")),
    ("de", "German", "de", ("ger", "deutsch")),
    ("el", "Greek", "el", ("gre",)),
    ("gu", "Gujarati", "gu", ("guj",)),
    ("hi", "Hindi", "hi", ("hin",)),
    ("hu", "Hungarian", "hu", ("hun", "magyar")),
    ("it", "Italian", "it", ("ita", "italiano")),
    ("ku", "Kurdish", "ku", ("kur", "kurdish sorani", "kurdish kurmanji")),
    ("lv", "Latvian", "lv", ("lat",)),
    ("lt", "Lithuanian", "lt", ("lit", "lietuviu")),
    ("ne", "Nepali", "ne", ("nep",)),
    ("pa", "Panjabi", "pa", ("pnj", "punjabi", "pnjg", "pnjm", "panjabi gurmukhi")),
    ("ps", "Pashto", "", ("pas", "pashto pakhto", "pushto")),
    ("pl", "Polish", "pl", ("pol", "polski")),
    ("pt", "Portuguese", "pt", ("por", "portugues", "portuguese brazil", "porb")),
    ("ro", "Romanian", "ro", ("rom", "romana", "moldovan")),
    ("ru", "Russian", "ru", ("rus",)),
    ("sk", "Slovak", "sk", ("slo",)),
    ("so", "Somali", "", ("som",)),
    ("es", "Spanish", "es", ("spa", "espanol", "castilian")),
    ("ta", "Tamil", "ta", ("tam",)),
    ("ti", "Tigrinya", "", ("tig", "tigrinya")),
    ("tr", "Turkish", "tr", ("tur", "turkce")),
    ("uk", "Ukrainian", "uk", ("ukr",)),
    ("ur", "Urdu", "ur", ("urd",)),
    ("vi", "Vietnamese", "vi", ("vie",)),
    ("cy", "Welsh", "cy", ("wel", "cymraeg")),
    ("yo", "Yoruba", "", ("yor",)),
)
# fmt: on

LANGUAGES: tuple[Language, ...] = tuple(Language(c, n, v) for c, n, v, _ in _TABLE)
ENGLISH = LANGUAGES[0]
_BY_CODE = {language.code: language for language in LANGUAGES}


def _key(text: str) -> str:
    """How a language's name is looked up: lower case, letters only ("Polish (Polski)" →
    "polish polski")."""
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


_BY_KEY: dict[str, Language] = {
    _key(alias): _BY_CODE[code]
    for code, name, _, aliases in reversed(_TABLE)  # the first language to claim a key keeps it
    for alias in (code, name, *aliases)
}


def language_of(text: str | None) -> Language | None:
    """The language ``text`` names ("Polish", "POL", "pl", "Polish (Polski)"), or None."""
    if not text or not text.strip():
        return None
    key = _key(text)
    found = _BY_KEY.get(key)
    if found is None and "(" in text:  # "Polish (Polski)", "Chinese (Mandarin)"
        found = _BY_KEY.get(_key(text.split("(", 1)[0])) or _BY_KEY.get(
            _key(text.split("(", 1)[1].rstrip(")"))
        )
    return found


def by_code(code: str) -> Language:
    """The language with ISO code ``code``; KeyError for one the hub does not know."""
    return _BY_CODE[code]


def shown(text: str | None) -> str:
    """A pupil's home language as people read it: its English name, else as the MIS wrote it."""
    language = language_of(text)
    return language.name if language is not None else (text or "").strip()


def family_language(home_languages: Iterable[str | None]) -> str | None:
    """The household's language, from its pupils' home languages (as written).

    Siblings almost always share one; where they differ, a language other than English
    wins, since it is the one the family may need help with. None when no pupil has one.
    """
    written = [text.strip() for text in home_languages if text and text.strip()]
    for text in written:
        language = language_of(text)
        if language is None or not language.english:
            return text
    return written[0] if written else None


def may_need_interpreter(text: str | None) -> bool:
    """Whether a family whose home language is ``text`` may need an interpreter."""
    if not text or not text.strip():
        return False
    language = language_of(text)
    return language is None or not language.english


NOT_RECORDED = "not recorded"


def families_by_language(households: Iterable[Iterable[str | None]]) -> list[tuple[str, int]]:
    """How many families speak each language at home, most first ("not recorded" last).

    Each household is given as its pupils' home languages, as the MIS wrote them.
    """
    counts: dict[str, int] = {}
    for home_languages in households:
        written = family_language(home_languages)
        name = shown(written) if written is not None else NOT_RECORDED
        counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: (item[0] == NOT_RECORDED, -item[1], item[0]))
