"""A subject access export and an erasure from the household page, in headless Chromium.

The panel runs as the school runs it (``phonehub web`` over HTTPS). The office finds a
family, downloads everything held about them, then erases them; the family is gone
from the panel, from the database file and from the zip's neighbours.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.web.test_browser_sharing import Panel, panel, signed_in

__all__ = ["panel"]  # the fixture, shared with the sharing test


def test_the_office_exports_then_erases_a_family(browser: Browser, panel: Panel):
    admin = signed_in(browser, panel, "ada@school.example")
    admin.get_by_role("link", name="Families", exact=True).click()
    admin.get_by_label("Pupil, parent or carer, MIS id or form").fill("O'Brien")
    admin.get_by_role("button", name="Search").click()
    admin.get_by_role("link", name="Zoë O'Brien (3B)").click()
    expect(admin.get_by_text("07700 900301")).to_be_visible()

    admin.get_by_role("link", name="Export everything held about this family").click()
    with admin.expect_download() as download:
        admin.get_by_role("button", name="Download the family's data").click()
    assert re.fullmatch(r"household-\d+-\d{4}-\d\d-\d\d\.zip", download.value.suggested_filename)
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    data = json.loads(archive.read("family.json"))
    assert [p["forename"] for p in data["pupils"]] == ["Zoë"]
    assert data["guardians"][0]["numbers"][0]["e164"] == "+447700900301"
    summary = html.unescape(archive.read("summary.html").decode())
    assert "Siân O'Brien" in summary and "viewed the phone numbers of" in summary

    admin.get_by_role("link", name="Back to the household").click()
    admin.get_by_role("link", name="Erase this family").click()
    expect(admin.get_by_text("safeguarding concerns, had there been any")).to_be_visible()
    admin.get_by_label("Type erase to confirm").fill("erase")
    admin.get_by_role("button", name="Erase this family").click()
    expect(admin.get_by_text(re.compile("The family was erased: 0 call"))).to_be_visible()
    admin.get_by_label("Pupil, parent or carer, MIS id or form").fill("O'Brien")
    admin.get_by_role("button", name="Search").click()
    expect(admin.get_by_text("No households match.")).to_be_visible()
    database = Path(panel.database_url.removeprefix("sqlite:///"))
    for file in database.parent.glob(database.name + "*"):
        assert b"900301" not in file.read_bytes(), file.name
