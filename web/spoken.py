"""Spoken messages (admin): the school's own wording in the languages its families speak.

English is the config's (``[speech]``). For another language the office writes the
voicemail message and the recording notice as the school wants them said; the hub
never translates. Saving speaks both with espeak-ng's voice for the language, so
wording it cannot say is refused with the form kept, and the first call does not wait.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from hub import languages, spoken
from hub.exceptions import SpeechError
from hub.models import Role, SpokenMessage
from web.db import db
from web.security import current_user, roles

bp = Blueprint("spoken", __name__, url_prefix="/spoken-messages")


@bp.route("/")
@roles(Role.ADMIN)
def index() -> str:
    """Each language's wording, and the form to write or change one."""
    return _page(language=request.args.get("language", ""))


@bp.route("/", methods=["POST"])
@roles(Role.ADMIN)
def save() -> str | BaseResponse | tuple[str, int]:
    """Keep the wording for a language once espeak-ng has said it; else say why, form kept."""
    code = request.form.get("language", "")
    message = request.form.get("voicemail_message", "").strip()
    notice = request.form.get("recording_notice", "").strip()
    user = current_user()
    assert user is not None
    if code not in {language.code for language in spoken.speakable()}:
        return _page(error="Choose one of the languages listed.", language=code,
                     message=message, notice=notice), 400  # fmt: skip
    try:
        spoken.save(db(), current_app.config["PHONEHUB"], code, message, notice, actor=user)
    except (spoken.WordingError, SpeechError) as exc:
        text = str(exc)
        return _page(error=text[:1].upper() + text[1:], language=code, message=message,
                     notice=notice), 400  # fmt: skip
    name = languages.by_code(code).name
    flash(f"Saved the {name} messages: families whose home language is {name} hear them.",
          "info")  # fmt: skip
    return redirect(url_for("spoken.index"))


@bp.route("/<code>/remove", methods=["POST"])
@roles(Role.ADMIN)
def remove(code: str) -> BaseResponse:
    """Forget a language's wording: its families hear the English messages again."""
    user = current_user()
    assert user is not None
    if spoken.remove(db(), code, actor=user):
        name = languages.by_code(code).name
        flash(f"Removed the {name} messages: those families hear English again.", "info")
    return redirect(url_for("spoken.index"))


def _page(*, error: str = "", language: str = "", message: str = "", notice: str = "") -> str:
    config = current_app.config["PHONEHUB"]
    written = {row.language: row for row in db().scalars(select(SpokenMessage))}
    if language in written and not error:  # "Change" opens the form with what is saved
        message, notice = written[language].voicemail_message, written[language].recording_notice
    rows = [(languages.by_code(code), row) for code, row in sorted(written.items())]
    return render_template("spoken.html", rows=rows, choices=spoken.speakable(),
                           voices=spoken.voices(), english=config.speech, error=error,
                           language=language, message=message, notice=notice)  # fmt: skip
