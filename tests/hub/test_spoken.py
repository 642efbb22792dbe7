"""Which spoken messages a family hears, on a real SQLite database and real espeak-ng."""

from __future__ import annotations

import pytest

from hub import spoken
from hub.config import parse_config
from hub.models import SpokenMessage
from tests.factories import add_household, add_staff, pupil


@pytest.fixture
def config(tmp_path):
    return parse_config(f'[hub]\ndata_dir = "{tmp_path}"\n[school]\nnumber = "01632 960000"\n')


def test_a_family_hears_its_home_languages_messages_once_the_school_has_written_them(
    sqlite_database, config
):
    with sqlite_database.session() as session:
        nowak = add_household(session, pupil(surname="Nowak", home_language="POL"),
                              pupil(surname="Nowak", home_language="English"))  # fmt: skip
        brien = add_household(session, pupil(home_language="English"))
        unknown = add_household(session, pupil(home_language=""))
        warsame = add_household(session, pupil(surname="Warsame", home_language="Somali"))
        assert spoken.for_household(session, config, nowak.id) is None  # nothing written yet
        admin = add_staff(session, "Office")
        spoken.save(session, config, "pl", "Dzień dobry, tu {school}.", "Nagrywamy.", actor=admin)
        # Somali has no espeak-ng voice, so it cannot be saved; a row from elsewhere is
        # not spoken either.
        session.add(SpokenMessage(language="so", voicemail_message="Salaan.",
                                  recording_notice="Salaan."))  # fmt: skip
        found = spoken.for_household(session, config, nowak.id)
        assert found is not None and found.language == "pl"
        assert found.voicemail.exists() and found.recording_notice.exists()
        for household in (brien, unknown, warsame):
            assert spoken.for_household(session, config, household.id) is None
        assert spoken.for_household(session, config, None) is None


@pytest.mark.parametrize(
    ("message", "notice", "why"),
    [
        ("", "Nagrywamy.", "Write the voicemail message; it cannot be empty."),
        ("Tu {szkoła}.", "Nagrywamy.",
         "The voicemail message can name only {school} and {number}, not {szkoła}; "
         "write {{ or }} for a brace."),
        ("Tu {school.", "Nagrywamy.",
         "The voicemail message has a { or } that is not {school} or {number}; "
         "write {{ or }} for a brace."),
        ("Tu {}.", "Nagrywamy.",
         "The voicemail message has a { or } that is not {school} or {number}; "
         "write {{ or }} for a brace."),
        ("Tu {school}.", "Nagrywamy {number}.",
         "The recording notice cannot hold { or }: it names nothing."),
        ("x" * 1001, "Nagrywamy.",
         "The voicemail message is too long: keep it under 1000 letters."),
    ],
)  # fmt: skip
def test_wording_that_cannot_be_spoken_says_why(message, notice, why):
    with pytest.raises(spoken.WordingError) as raised:
        spoken.check_wording(message, notice)
    assert str(raised.value) == why


def test_only_a_language_with_a_voice_here_can_be_written(sqlite_database, config):
    with sqlite_database.session() as session:
        admin = add_staff(session, "Office")
        with pytest.raises(spoken.WordingError, match="no espeak-ng voice for Somali"):
            spoken.save(session, config, "so", "Salaan.", "Salaan.", actor=admin)
        with pytest.raises(spoken.WordingError, match="change it in the config"):
            spoken.save(session, config, "en", "Hello.", "Recorded.", actor=admin)
