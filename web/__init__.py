"""The staff and admin panel (Flask); it talks to the line over the control socket.

app = create_app()                     # reads the hub's config like every command
app = create_app({"PHONEHUB": config})  # tests hand over a Config of their own
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, redirect, render_template, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response as BaseResponse

from hub.config import Config, load_config
from hub.db import open_database
from hub.private_files import private_file

log = logging.getLogger(__name__)


def _secret_key(config: Config) -> bytes:
    """The key that signs session cookies: made once, kept private in the data folder."""
    path = Path(config.hub.data_dir) / "web-secret-key"
    return private_file(path, secrets.token_bytes(32))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The panel's WSGI app, with every blueprint and extension wired in."""
    app = Flask(__name__)
    settings = dict(test_config or {})
    config: Config = settings.pop("PHONEHUB", None) or load_config()
    app.config.update(
        PHONEHUB=config,
        SECRET_KEY=_secret_key(config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="phonehub_session",
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,  # a 30,000-pupil export is a few MB
    )
    app.config.update(settings)
    app.extensions["phonehub.db"] = open_database(config.database.url)

    from web import (
        account,
        audit_log,
        calendar,
        campaigns,
        desk,
        dsl,
        errors,
        hub_status,
        insights,
        own_phone,
        people,
        positive,
        security,
        spoken,
        staff,
        times,
        who_called,
    )

    security.init_app(app)
    errors.init_app(app)
    times.init_app(app)
    for blueprint in (
        account.bp,
        own_phone.bp,
        desk.bp,
        staff.bp,
        people.bp,
        campaigns.bp,
        audit_log.bp,
        calendar.bp,
        spoken.bp,
        hub_status.bp,
        dsl.bp,
        positive.bp,
        who_called.bp,
        insights.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_error_handler(OperationalError, _database_unreachable)
    app.add_url_rule("/favicon.ico", "favicon", security.public(_favicon))
    return app


def _favicon() -> BaseResponse:
    """The icon's old address, which some browsers ask for whatever the page links."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


def _database_unreachable(exc: OperationalError) -> tuple[str, int]:
    """One clear page, not a stack trace, when the database is down or unreachable.

    With several hubs on one PostgreSQL server this is a network or server outage;
    whatever the form held was not saved, so say so. Only the error's class is
    logged: the driver's message can quote the statement and its values.
    """
    log.error("database unreachable (%s); showed the 'try again' page",
              type(getattr(exc, "orig", exc)).__name__)  # fmt: skip
    g.user = None  # the page must not ask the database who is signed in
    message = (
        "The hub cannot reach its database just now, so nothing on this page was saved. "
        "Try again in a minute; if it keeps happening, tell IT (docs/troubleshooting.md)."
    )
    return render_template("message.html", message=message), 503
