"""The School calendar page: importing the school's own dates, and what the hub counts."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select

from hub.models import CalendarPeriod, PeriodKind, Role, utcnow
from hub.school_days import Period, replace_calendar
from tests.hub.test_school_days import CALENDAR_CSV
from tests.web.conftest import csrf_token


def upload(client, content: bytes, name: str = "calendar.csv"):
    token = csrf_token(client, "/calendar/")
    return client.post("/calendar/", data={"file": (io.BytesIO(content), name),
                                           "csrf_token": token},
                       content_type="multipart/form-data")  # fmt: skip


def test_an_admin_imports_the_schools_calendar_and_sees_the_days_off(app, accounts):
    client = app.test_client()
    accounts.login(client, accounts.add(Role.ADMIN))
    page = client.get("/calendar/").get_data(as_text=True)
    assert "None imported yet: only weekends and bank holidays are days off." in page
    assert "Calls are made on school days only." in page

    done = upload(client, CALENDAR_CSV.encode())
    told = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Imported 5 terms, holidays and INSET days from calendar.csv" in told
    assert "Christmas holidays" in told and "INSET day" in told

    refused = upload(client, b"start,end,what\r\n31/02/2027,05/03/2027,term\r\n")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Nothing was imported; the calendar is as it was." in page
    assert "line 2: &#39;31/02/2027&#39; is not a date (write it as 25/12/2026)" in page
    with app.extensions["phonehub.db"].session() as session:
        assert len(session.scalars(select(CalendarPeriod)).all()) == 5


def test_only_an_admin_sees_the_calendar(app, accounts):
    for role in (Role.STAFF, Role.DSL):
        client = app.test_client()
        accounts.login(client, accounts.add(role))
        assert client.get("/calendar/").status_code in (403, 404)


def test_the_desk_says_when_today_is_not_a_school_day(app, accounts):
    today = utcnow().astimezone(ZoneInfo("Europe/London")).date()
    with app.extensions["phonehub.db"].session() as session:
        replace_calendar(session, [Period(today, today, PeriodKind.HOLIDAY, "Snow day")],
                         actor="test")  # fmt: skip
    client = app.test_client()
    accounts.login(client, accounts.add(Role.STAFF))
    page = client.get("/desk/").get_data(as_text=True)
    bank_holiday = holidays.country_holidays("GB", subdiv="ENG", years=today.year).get(today)
    if today.weekday() >= 5:
        why = f"(a {today:%A})"
    elif bank_holiday:
        why = ", a bank holiday)"
    else:
        why = "(Snow day, a school holiday)"
    assert "Today is not a school day (" in page
    assert f"{why}, so no calls can be made today." in page
