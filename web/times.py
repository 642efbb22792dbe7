"""Times as the school reads them: in its own time zone, dates written the UK way.

The database holds UTC; a page shows "Sun 29 Nov 2026, 14:05" in ``[dialplan]
timezone`` (Europe/London unless set), so a line written at 14:05 in summer is
not shown as 13:05.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app


def _local(moment: datetime) -> datetime:
    return moment.astimezone(current_app.config["PHONEHUB"].dialplan.zone)


def school_date(moment: datetime | None) -> str:
    """The school-local date of ``moment``: "Sun 29 Nov 2026"."""
    if moment is None:
        return ""
    local = _local(moment)
    return f"{local:%a} {local.day} {local:%b %Y}"


def school_time(moment: datetime | None) -> str:
    """The school-local date and time of ``moment``: "Sun 29 Nov 2026, 14:05"."""
    if moment is None:
        return ""
    return f"{school_date(moment)}, {_local(moment):%H:%M}"


def init_app(app: Flask) -> None:
    """Make both formats template filters: ``{{ event.at | school_time }}``."""
    app.add_template_filter(school_date)
    app.add_template_filter(school_time)
