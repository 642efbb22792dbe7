"""Every page of the panel, for every role, checked by axe-core in headless Chromium.

The page list comes from the panel's own URL map, so a new page is checked the day it
is added (or the test says which value its URL needs). axe-core is the npm package
pinned in package-lock.json (``make setup-test`` installs it into node_modules/).
Screenshots of each role's home page are kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import positive, queues, users
from hub.config import parse_config
from hub.db import open_database
from hub.models import (
    CallAttempt,
    Campaign,
    CampaignEntry,
    Concern,
    EndReason,
    Guardian,
    Household,
    Outcome,
    ParentCallBack,
    Pupil,
    Purpose,
    Role,
    StaffUser,
    utcnow,
)
from hub.people import import_file
from tests.line.conftest import free_port
from tests.web.conftest import ARTIFACTS, PASSWORD, running_panel
from tests.web.two_step import set_up_page
from web import create_app

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ARTIFACTS / "screenshots"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
EXPORT = (
    "UPN,Forename,Surname,Year,Form,Contact Name,Relationship,Mobile,Home\r\n"
    "A1,Zoë,O'Brien,3,3B,Siân O'Brien,Mother,07700 900301,01632 960301\r\n"
    "A2,Finn,O'Brien,6,6A,Siân O'Brien,Mother,07700 900301,01632 960301\r\n"
    "A2,Finn,O'Brien,6,6A,Tomasz O'Brien,Father,07700 900305,\r\n"
    "B1,Kai,Fitzwilliam,3,3A,Farah Fitzwilliam,Mother,07700 900302\r\n"
    "C1,Amara,Okafor,4,4B,Chidi Okafor,Father,07700 900303\r\n"
    "D1,Rhys,Llewellyn,5,5C,Carys Llewellyn,Mother,07700 900304\r\n"
)
ADMIN, STAFF, DSL = "ada@school.example", "sam@school.example", "dana@school.example"
# POST-only routes are actions: the pages they answer with are the pages checked here.
# GET routes that are not pages a person reads, and why axe has nothing to check there.
NOT_PAGES = {
    "static": "the panel's stylesheet, scripts and icon, not pages",
    "favicon": "an icon",
    "desk.events": "the desk's live call state, a stream that never ends",
    "dsl.export": "a CSV download",
    "insights.download": "a CSV download",
}


TABLET = {"width": 768, "height": 1024}


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 A and AA violations on the page, one readable line each."""
    assert AXE.exists(), f"{AXE} is missing: run `make setup-test` (npm ci) first"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in result["violations"]
    ]


def new_page(browser: Browser) -> Page:
    """A fresh browser tab as a school laptop has it: British English, the panel's own TLS."""
    # axe is injected as an inline script, which the panel's CSP rightly forbids.
    context = browser.new_context(ignore_https_errors=True, locale="en-GB", bypass_csp=True)
    return context.new_page()


def sign_in(browser: Browser, url: str, email: str) -> Page:
    page = new_page(browser)
    page.goto(url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    set_up_page(page)
    page.wait_for_url(re.compile(r"^(?!.*/login)"))
    return page


@dataclass(frozen=True)
class Panel:
    """A running panel and its database."""

    url: str
    database_url: str


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[Panel]:
    """``phonehub web`` over HTTPS on an empty database: nobody has set it up yet."""
    port = free_port()
    config = tmp_path / "phonehub.toml"
    config.write_text(f'[hub]\nname = "office-1"\ndata_dir = "{tmp_path}"\n'
                      f'[web]\nbind = "127.0.0.1"\nport = {port}\n')  # fmt: skip
    with running_panel(config, port) as url:
        yield Panel(url, f"sqlite:///{tmp_path / 'phonehub.db'}")


def _a_school(database_url: str) -> dict[str, int]:
    """Families, an admin, a teacher, a DSL, a campaign with a call and an open concern."""
    with open_database(database_url) as database, database.session() as session:
        import_file(session, EXPORT.encode(), actor="test")
        for email, name, role, calls in ((ADMIN, "Ada Office", Role.ADMIN, False),
                                         (STAFF, "Sam Teacher", Role.STAFF, True),
                                         (DSL, "Dana Safeguarding", Role.DSL, True)):  # fmt: skip
            users.add(session, email, name, role, PASSWORD, actor="test", opted_in=calls)
        campaign = Campaign(name="Autumn welfare", purpose=Purpose.WELFARE,
                            talking_points="Ask how the family is getting on.")  # fmt: skip
        session.add(campaign)
        session.flush()
        queues.add_households(session, campaign, actor="test", now=utcnow(), everyone=True)
        sam = session.scalar(select(StaffUser).where(StaffUser.email == STAFF))
        entry = session.scalars(select(CampaignEntry)).first()
        at = utcnow()
        attempt = CallAttempt(entry_id=entry.id, household_id=entry.household_id,
                              staff_id=sam.id, requested_at=at, answered_at=at, ended_at=at,
                              end_reason=EndReason.COMPLETED)  # fmt: skip
        session.add(attempt)
        session.flush()
        concern = Concern(household_id=entry.household_id, attempt_id=attempt.id,
                          raised_by_id=sam.id, note="No food at home, she said.")  # fmt: skip
        session.add(concern)
        # The family rang back: Sam's home page and desk show the office's note.
        ada = session.scalar(select(StaffUser).where(StaffUser.email == ADMIN))
        session.add(ParentCallBack(attempt_id=attempt.id, noted_by_id=ada.id,
                                   note="Will ring again after 3pm.",
                                   form_token="axe"))  # fmt: skip
        session.flush()
        # Sam nominated Amara, reached her father four days ago, and wrote a reflection.
        amara = session.scalar(select(Pupil).where(Pupil.forename == "Amara"))
        nominated = positive.nominate(session, amara, "Helped run the book fair.", by=sam,
                                      now=at - timedelta(days=4))  # fmt: skip
        praise = CallAttempt(entry_id=nominated.entry.id, household_id=amara.household_id,
                             staff_id=sam.id, requested_at=at - timedelta(days=4),
                             end_reason=EndReason.COMPLETED,
                             outcome=Outcome.SPOKE_TO_PARENT)  # fmt: skip
        session.add(praise)
        session.flush()
        reflection = positive.reflection_for(session, sam, praise.id, now=at, after_days=3)
        positive.save(session, reflection, {"impressed": "She ran the stall alone."}, author=sam,
                      now=at)  # fmt: skip
        household = session.scalars(select(Household)).first()
        called = session.scalar(select(Guardian.name).where(
            Guardian.household_id == entry.household_id))  # fmt: skip
        return {"campaign_id": campaign.id, "household_id": household.id,
                "concern_id": concern.id, "called_parent": called, "pupil_id": amara.id,
                "attempt_id": praise.id}  # fmt: skip


def _pages(tmp_path: Path, values: dict[str, object]) -> list[str]:
    """Every GET page in the panel's URL map, with ``values`` for the parts of its URL."""
    config = parse_config(f'[hub]\nname = "map"\ndata_dir = "{tmp_path / "map"}"\n')
    app = create_app({"PHONEHUB": config, "TESTING": True, "SERVER_NAME": "panel"})
    try:
        paths = []
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            missing = rule.arguments - values.keys()
            assert not missing, f"{rule.rule} needs a value for {missing} in this test"
            _, path = rule.build({name: values[name] for name in rule.arguments})
            paths.append(path)
        return paths
    finally:
        app.extensions["phonehub.db"].close()


def test_every_page_in_every_role_passes_axe(browser: Browser, panel: Panel, tmp_path: Path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    checked: set[tuple[str, str]] = set()

    def check(page: Page, who: str, path: str | None = None) -> None:
        if path is not None:
            page.goto(panel.url + path)
        if (who, page.url) in checked:  # a redirect to a page already checked
            return
        checked.add((who, page.url))
        for violation in axe_violations(page):
            found.setdefault(f"{who} {page.url.removeprefix(panel.url)}", []).append(violation)

    # Before anyone has set the hub up, the first-run page is the way in.
    stranger = new_page(browser)
    check(stranger, "signed out", "/setup")

    values: dict[str, object] = _a_school(panel.database_url)
    admin = sign_in(browser, panel.url, ADMIN)
    admin.get_by_role("link", name="Staff").click()
    invite = admin.locator("form[action$='/staff/invite']")
    invite.get_by_label("Name").fill("Kim Teacher")
    invite.get_by_label("Email").fill("kim@school.example")
    invite.get_by_role("button", name="Invite").click()
    check(admin, "admin after inviting")  # the invitation link, shown once
    values["token"] = re.search(r"/invite/([\w-]+)", admin.content()).group(1)
    pages = [*_pages(tmp_path, values), "/no-such-page"]

    stranger = new_page(browser)
    roles = {"signed out": stranger, "admin": admin, "staff": sign_in(browser, panel.url, STAFF),
             "dsl": sign_in(browser, panel.url, DSL)}  # fmt: skip
    for who, page in roles.items():
        if who != "signed out":
            page.goto(panel.url + "/")
            page.screenshot(path=str(SCREENSHOTS / f"home-{who}.png"), full_page=True)
        for path in pages:
            check(page, who, path)
    # A tablet in portrait, as staff often call from: every page a teacher opens, and
    # each role's home (targets and reflow are checked again at this width).
    for who, page in roles.items():
        page.set_viewport_size(TABLET)
        for path in pages if who == "staff" else ["/"] if who != "signed out" else []:
            check(page, f"{who} on a tablet", path)

    # A page that exists only as the answer to a form: the import preview.
    export = tmp_path / "contacts.csv"
    export.write_text(EXPORT.replace("Rhys", "Rhian"), encoding="utf-8")
    admin.goto(panel.url + "/people/import")
    admin.get_by_label("MIS export (CSV)").set_input_files(export)
    admin.get_by_role("button", name="Check the file").click()
    expect(admin.get_by_role("heading", name="What this file would do")).to_be_visible()
    check(admin, "admin import preview")

    # Pages that answer the "Who called us?" search: a family's calls, and one sentence.
    for typed, shown in ((values["called_parent"], "Family of"), ("07700 9001", "not a UK")):
        admin.goto(panel.url + "/who-called/")
        admin.get_by_label("Number that called, or parent's name").fill(str(typed))
        admin.get_by_role("button", name="Find the school's calls").click()
        expect(admin.get_by_text(shown).first).to_be_visible()
        check(admin, f"admin who-called answer ({shown})")

    # A nomination: the pupils found, the page that answers it, and the positive call's card
    # (the DSL's: Sam's desk still waits for the outcome of Sam's last call; the family of
    # the concern cannot be nominated).
    dana = roles["dsl"]
    dana.set_viewport_size({"width": 1280, "height": 800})
    dana.goto(panel.url + "/positive/nominate")
    dana.get_by_label("Pupil's name, or a form such as 8B").fill("Llewellyn")
    dana.get_by_role("button", name="Find").click()
    check(dana, "dsl nominate search")
    dana.get_by_role("link", name="Nominate Rhys Llewellyn").click()
    dana.get_by_label("What did Rhys do?").fill("Read her poem to the whole school.")
    dana.get_by_role("button", name="Nominate").click()
    check(dana, "dsl nominated")
    dana.get_by_role("link", name="Call Rhys's family now").click()
    expect(dana.get_by_text("What Rhys Llewellyn did")).to_be_visible()
    check(dana, "dsl positive card")

    report = "\n".join(f"{where}:\n  " + "\n  ".join(lines) for where, lines in found.items())
    assert not found, "axe-core found WCAG 2.2 AA violations:\n" + report


# What a control does: a link's address; a button's form address and what the form sends
# that the person did not type (hidden fields, the button's own value); a field's form and
# name. getAttribute, because a field named "action" shadows form.action.
EFFECT = """e => {
  if (e.tagName === 'A') return e.href;
  if (!e.form) return e.id || e.outerHTML;
  const action = e.getAttribute('formaction') || e.form.getAttribute('action');
  if (e.type !== 'submit') return [action, e.name].join(' ');
  const hidden = [...e.form.querySelectorAll('input[type=hidden]')]
    .filter(i => i.name !== 'csrf_token').map(i => i.name + '=' + i.value);
  return [action, e.name + '=' + e.value, ...hidden].join(' ');
}"""
CONTROLS = "button|link|checkbox|textbox|combobox|radio"


def same_names_doing_different_things(page: Page) -> dict[str, set[str]]:
    """Controls that share an accessible name but do different things."""
    effects: dict[str, set[str]] = defaultdict(set)
    snapshot = page.locator("body").aria_snapshot()
    for role, name in set(re.findall(rf'- ({CONTROLS}) "((?:[^"\\]|\\.)*)"', snapshot)):
        name = name.replace('\\"', '"')
        for control in page.get_by_role(role, name=name, exact=True).all():
            effects[f"{role} {name!r}"].add(control.evaluate(EFFECT))
    return {name: done for name, done in effects.items() if len(done) > 1}


def test_controls_that_do_different_things_have_different_names(browser: Browser, panel: Panel):
    values = _a_school(panel.database_url)
    with open_database(panel.database_url) as database, database.session() as session:
        # A second campaign and a second concern, so the DSL's list repeats its controls.
        entry = session.scalars(select(CampaignEntry)).all()[-1]
        session.add(Concern(household_id=entry.household_id, note="Seemed worried."))
    admin, dsl = sign_in(browser, panel.url, ADMIN), sign_in(browser, panel.url, DSL)
    sam = sign_in(browser, panel.url, STAFF)
    pages = [(admin, f"/campaigns/{values['campaign_id']}"), (admin, "/people/"),
             (admin, f"/people/{values['household_id']}"), (admin, "/staff/"),
             (admin, "/audit/"), (dsl, "/dsl/"), (dsl, f"/dsl/concerns/{values['concern_id']}"),
             (sam, f"/desk/{values['campaign_id']}"), (dsl, "/campaigns/"),
             (admin, "/insights/coverage"), (dsl, "/insights/calls")]  # fmt: skip
    clashes = {}
    for page, path in pages:
        page.goto(panel.url + path)
        if clash := same_names_doing_different_things(page):
            clashes[path] = clash
    report = "\n".join(
        f"{path}: "
        + "; ".join(f"{name} does {len(done)} different things" for name, done in clash.items())
        for path, clash in clashes.items()
    )
    assert not clashes, "controls share a name but do different things:\n" + report


def test_a_skip_link_is_the_first_stop_and_lands_in_the_main_content(
    browser: Browser, panel: Panel
):
    _a_school(panel.database_url)
    # (The sign-in page starts in its Email box, so Tab starts there, not here.)
    for page, path in ((new_page(browser), "/no-such-page"),
                       (sign_in(browser, panel.url, ADMIN), "/campaigns/")):  # fmt: skip
        page.goto(panel.url + path)
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to main content")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()  # visible once focused, for people who see the screen
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")  # the next stop is inside the page's content, not the menu
        inside = "() => document.querySelector('main').contains(document.activeElement)"
        assert page.evaluate(inside)
