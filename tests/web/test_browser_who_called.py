"""Who called us? in headless Chromium: the office finds a parent's call and tells the caller.

The panel runs as the school runs it (``phonehub web`` over HTTPS). Sam called the
O'Briens yesterday; Mrs O'Brien rings back. The office types her number as she gives
it, finds Sam's call, double-clicks "Parent called back" with a note, and Sam sees it on
the home page until marking it seen. The number never appears in an address.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from hub.db import open_database
from hub.models import CampaignEntry, Outcome, ParentCallBack, StaffUser, utcnow
from tests import factories
from tests.web.test_browser_sharing import PUPILS, Panel, panel, signed_in

__all__ = ["panel"]  # the fixture, shared with the sharing test


def test_the_office_finds_the_call_and_the_caller_hears_of_it(browser: Browser, panel: Panel):
    with open_database(panel.database_url) as database, database.session() as session:
        sam = session.scalar(select(StaffUser).where(StaffUser.email == "sam@school.example"))
        entries = session.scalars(select(CampaignEntry).order_by(CampaignEntry.id)).all()
        for entry in entries:  # Sam rang every family yesterday; only one rings back
            factories.add_call(session, entry, sam, utcnow() - timedelta(days=1),
                               outcome=Outcome.VOICEMAIL)  # fmt: skip

    admin = signed_in(browser, panel, "ada@school.example")
    admin.get_by_role("link", name="Who called us?").click()
    admin.get_by_label("Number that called, or parent's name").fill("+44 7700 900301")
    admin.get_by_role("button", name="Find the school's calls").click()
    expect(admin.get_by_role("heading", name="Family of Zoë O'Brien")).to_be_visible()
    expect(admin.get_by_role("heading", level=2, name=PUPILS)).to_have_count(1)
    expect(admin.get_by_text("left a voicemail")).to_be_visible()
    assert "900301" not in admin.url and "900301" not in admin.content()

    admin.get_by_label("Note for the caller (optional)").fill("will ring again after 3pm")
    admin.get_by_role("button", name="Parent called back").dblclick()
    expect(admin.get_by_text("Noted by Ada Office")).to_be_visible()
    with open_database(panel.database_url) as database, database.session() as session:
        assert session.scalar(select(func.count()).select_from(ParentCallBack)) == 1

    teacher = signed_in(browser, panel, "sam@school.example")
    notice = teacher.get_by_text("The O'Brien family called back about your call on")
    expect(notice).to_be_visible()
    expect(teacher.get_by_text("will ring again after 3pm")).to_be_visible()
    teacher.get_by_role("button", name="Mark seen").click()
    expect(notice).to_have_count(0)
    kim = signed_in(browser, panel, "kim@school.example")
    expect(kim.get_by_role("heading", name="Hello, Kim Teacher")).to_be_visible()
    expect(kim.get_by_text("called back")).to_have_count(0)
