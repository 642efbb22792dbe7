"""Hub status: every hub in the database, and a clear sentence when the line is down."""

from __future__ import annotations

from datetime import timedelta

from hub.models import CallAttempt, EndReason, Hub, Role, utcnow


def test_hub_status_lists_hubs_and_says_when_the_line_is_not_running(app, accounts):
    with app.extensions["phonehub.db"].session() as session:
        session.add_all([
            Hub(name="office-1", registration="registered", last_seen_at=utcnow()),
            Hub(name="pastoral-2", registration="registered",
                last_seen_at=utcnow() - timedelta(hours=3)),
            CallAttempt(end_reason=EndReason.COMPLETED, answered_at=utcnow()),
            CallAttempt(end_reason=EndReason.REFUSED),
        ])  # fmt: skip
    client = app.test_client()
    accounts.login(client, accounts.add(Role.ADMIN))
    page = client.get("/hub/").get_data(as_text=True)
    assert "The line daemon is not running" in page
    assert "office-1</td>\n    <td>registered" in page
    assert "pastoral-2</td>\n    <td>not running" in page
    assert "<dt>dialled</dt><dd>1</dd>" in page
    assert "<dt>refused by the dial guard</dt><dd>1</dd>" in page
