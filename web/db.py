"""One database session per request, committed before the response goes out."""

from __future__ import annotations

from flask import Response, current_app, g
from sqlalchemy.orm import Session

from hub.db import Database


def database() -> Database:
    """The app's open database."""
    return current_app.extensions["phonehub.db"]


def db() -> Session:
    """This request's session."""
    if "db" not in g:
        g.db = database().sessions()
    return g.db


def commit(response: Response) -> Response:
    """Commit what the view did, so a failed write is an error page, never a false success."""
    session: Session | None = g.get("db")
    if session is not None and response.status_code < 400:
        session.commit()
    return response


def close(_error: BaseException | None) -> None:
    """Roll back anything uncommitted and release the connection."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()
