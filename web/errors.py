"""Error pages in the panel's own layout, with one sentence and a way home.

A page someone cannot open, or that is not there, must not strand them on a bare
server page; the desk's scripts, which send and expect JSON, get the same
sentence as JSON so they can show it.
"""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

# code: (page title, the sentence shown).
PAGES = {
    400: ("The hub could not use that",
          "The hub could not read what was sent, so nothing was done; go back and try again."),
    401: ("Signed out", "You are signed out; reload the page to sign in again."),
    403: ("Not for your account",
          "Your account cannot open this page; if you need it, ask the school's admin."),
    404: ("Page not found", "There is no page at this address; the link may be old or mistyped."),
    405: ("Not opened that way",
          "This address is for the panel's buttons, not for opening directly; "
          "go back and use the button on the page."),
    413: ("File too large",
          "That file is larger than the hub accepts (32 MB), so nothing was imported."),
    500: ("Something went wrong",
          "Something went wrong on the hub, so this was not done; try again, and if it "
          "keeps happening tell IT (docs/troubleshooting.md)."),
}  # fmt: skip
CSRF_PAGE = (
    "The form had expired",
    "This form had been open too long, so nothing was saved; copy anything you typed, "
    "reload the page and send it again.",
)
CSRF_JSON = "This page had been open too long, so nothing was done; reload it and try again."


def wants_json() -> bool:
    """Whether the request came from a script that reads JSON (the desk's calls)."""
    if request.is_json:
        return True
    return request.accept_mimetypes.best_match(("text/html", "application/json")) == (
        "application/json"
    )


def _page(code: int, title: str, message: str, headers: dict[str, str] | None = None
          ) -> ResponseReturnValue:  # fmt: skip
    if wants_json():
        return {"error": message}, code, headers or {}
    return render_template("error.html", title=title, message=message), code, headers or {}


def not_found(what: str) -> tuple[str, int]:
    """The panel's page for a record that is not there: "There is no such ``what``; …"."""
    message = f"There is no such {what}; the link may be old."
    return render_template("error.html", title="Not found", message=message), 404


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    title, message = PAGES.get(code, PAGES[400 if code < 500 else 500])
    # A 405 says which methods the address takes; keep that for scripts.
    kept = {name: value for name, value in exc.get_headers() if name == "Allow"}
    return _page(code, title, message, kept)


def _csrf_error(_exc: CSRFError) -> ResponseReturnValue:
    if wants_json():
        return {"error": CSRF_JSON}, 400
    return _page(400, *CSRF_PAGE)


def _server_error(_exc: InternalServerError) -> ResponseReturnValue:
    # Flask has already logged the exception. The request's database session may
    # be mid-failure and the page still asks it who is signed in, so start it
    # afresh; nothing of the failed request is committed.
    session = g.get("db")
    if session is not None:
        session.rollback()
    return _page(500, *PAGES[500])


def init_app(app: Flask) -> None:
    """Send every error the panel can show through the panel's layout (or JSON)."""
    app.register_error_handler(CSRFError, _csrf_error)
    for code in PAGES:
        if code != 500:
            app.register_error_handler(code, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
