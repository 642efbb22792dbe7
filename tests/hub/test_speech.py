"""Spoken prompts rendered by real pyttsx3 and espeak-ng into the WAV cache."""

import math
import os
import stat
import time
import wave
from array import array
from pathlib import Path

import pytest

from hub.config import parse_config
from hub.exceptions import SpeechError
from hub.speech import SpeechCache, resample

SENTENCE = "Hello, this is the school calling with some good news about your child today."


def read_wav(path: Path):
    """The parameters and samples of the WAV file at ``path``."""
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = array("h", wav.readframes(params.nframes))
    return params, samples


def rms(samples: array) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.fixture
def cache(tmp_path: Path) -> SpeechCache:
    return SpeechCache(tmp_path / "speech")


def test_renders_16khz_mono_16bit_speech_of_a_plausible_length(cache):
    params, samples = read_wav(cache.render(SENTENCE))

    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 16000)
    assert 2 < params.nframes / params.framerate < 8
    assert rms(samples) > 500


def test_the_file_is_named_for_a_hash_in_a_private_folder(cache, tmp_path):
    path = cache.render(SENTENCE)

    assert path.parent == tmp_path / "speech"
    assert len(path.stem) == 64 and path.suffix == ".wav"
    assert stat.S_IMODE((tmp_path / "speech").stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_cached_prompt_is_not_rendered_again(cache):
    first = cache.render(SENTENCE)
    before = first.stat().st_mtime_ns
    time.sleep(0.05)

    again = SpeechCache(cache.folder).render(SENTENCE)

    assert again == first
    assert again.stat().st_mtime_ns == before


def test_text_voice_and_rate_each_make_their_own_file(tmp_path):
    folder = tmp_path / "speech"
    paths = {
        SpeechCache(folder).render("Good morning."),
        SpeechCache(folder).render("Good afternoon."),
        SpeechCache(folder, voice="en-us").render("Good morning."),
        SpeechCache(folder, rate=220).render("Good morning."),
    }

    assert len(paths) == 4
    assert len(list(folder.iterdir())) == 4


def test_a_faster_rate_speaks_for_less_time(tmp_path):
    slow, _ = read_wav(SpeechCache(tmp_path, rate=120).render(SENTENCE))
    fast, _ = read_wav(SpeechCache(tmp_path, rate=300).render(SENTENCE))

    assert fast.nframes < slow.nframes * 0.7


def test_each_voice_is_used_whatever_was_rendered_before(tmp_path):
    # pyttsx3 in one process would keep en-us for the third render; each render is fresh.
    british = SpeechCache(tmp_path / "a", voice="en-gb").render(SENTENCE)
    SpeechCache(tmp_path / "b", voice="en-us").render(SENTENCE)
    british_again = SpeechCache(tmp_path / "c", voice="en-gb").render(SENTENCE)

    assert british.read_bytes() == british_again.read_bytes()


@pytest.mark.parametrize("voice", ["en-gb", "gmw/en", "English (Great Britain)", "EN-GB", "en"])
def test_a_voice_may_be_named_by_language_id_or_name(tmp_path, voice):
    expected = SpeechCache(tmp_path / "ref", voice="gmw/en").render(SENTENCE).read_bytes()

    assert SpeechCache(tmp_path / "x", voice=voice).render(SENTENCE).read_bytes() == expected


def test_an_unknown_voice_is_one_sentence_with_a_suggestion(cache):
    with pytest.raises(SpeechError) as caught:
        SpeechCache(cache.folder, voice="en-gbb").render(SENTENCE)

    message = str(caught.value)
    assert message.startswith("'en-gbb' is not an espeak-ng voice (did you mean en-gb?)")
    assert "en-us" in message and "espeak-ng --voices" in message
    assert "\n" not in message
    assert not list(cache.folder.iterdir())


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_refused(cache, text):
    with pytest.raises(SpeechError, match=r"^cannot speak an empty prompt; give some text to say$"):
        cache.render(text)


def test_text_that_makes_no_sound_is_refused_and_leaves_no_file(cache):
    with pytest.raises(SpeechError, match=r"^espeak-ng produced no audio for '\.\.\.'"):
        cache.render("...")

    assert not list(cache.folder.iterdir())


def test_the_default_voicemail_message_renders(tmp_path):
    speech = parse_config("").speech
    text = speech.voicemail_message.format(school="Northfield School", number="01632 960000")
    cache = SpeechCache(tmp_path, voice=speech.voice, rate=speech.rate)

    params, samples = read_wav(cache.render(text))

    assert "Northfield School" in text and "01632 960000" in text
    assert 6 < params.nframes / params.framerate < 30
    assert rms(samples) > 500


def test_a_ten_second_prompt_renders_well_under_two_seconds(tmp_path):
    text = (
        "This is a longer prompt of about ten seconds, spoken to check that rendering "
        "and resampling are quick enough for the line daemon to use while a call waits."
    )
    started = time.perf_counter()
    params, _ = read_wav(SpeechCache(tmp_path).render(text))
    elapsed = time.perf_counter() - started

    assert params.nframes / params.framerate > 7
    assert elapsed < 2


def test_resample_interpolates_between_samples():
    ramp = array("h", range(22050))

    out = resample(ramp, 22050, 16000)

    assert len(out) == 16000
    assert out[0] == 0
    # Output sample i sits 22050/16000 * i input samples in, and the ramp's value is its index.
    for i in (1, 1000, 15999):
        assert abs(out[i] - 22050 / 16000 * i) <= 1
    assert resample(array("h"), 22050, 16000) == array("h")


def test_no_temporary_file_is_left_behind(cache):
    cache.render(SENTENCE)

    assert [p.suffix for p in cache.folder.iterdir()] == [".wav"]
    assert not [name for name in os.listdir(cache.folder) if name.startswith(".")]
