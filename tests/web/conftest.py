"""The panel under Flask's test client, on a real SQLite database."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, sync_playwright

from hub import users
from hub.config import parse_config
from hub.models import Role
from tests.line.conftest import (  # noqa: F401 (the browser flow uses the real line)
    PHONEHUB,
    hub_line,
    kamailio,
    make_line,
    practice_line,
    wait_until,
)
from tests.web import two_step
from web import create_app

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots, kept by CI
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# A UK school's browser, so date boxes read day/month/year and a 24-hour clock. On Linux
# Chromium takes its locale from these (not --lang) and needs Debian's chromium-l10n.
CHROMIUM_ENV = {"LANG": "en_GB.UTF-8", "LANGUAGE": "en_GB"}


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              env={**os.environ, **CHROMIUM_ENV})  # fmt: skip
        yield chromium
        chromium.close()


@contextmanager
def running_panel(config: Path, port: int) -> Iterator[str]:
    """``phonehub web`` on ``config`` (its [web] on 127.0.0.1:``port``) while the block runs.

    Yields the panel's HTTPS address once it answers with its own certificate; the
    panel's output goes to web.log beside the config.
    """
    folder = config.parent
    log = (folder / "web.log").open("wb")
    process = subprocess.Popen([*PHONEHUB, "--config", str(config), "web"],
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    certificate = folder / "tls" / "panel.pem"
    try:
        wait_until(lambda: certificate.exists() and answers(url, certificate), timeout=20,
                   what="the panel")  # fmt: skip
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def answers(url: str, cafile: Path | None = None) -> bool:
    """Whether a panel is answering at ``url`` (over HTTPS, trusting ``cafile``)."""
    try:  # the certificate may be there but half written while the panel starts
        context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
        with urllib.request.urlopen(url + "/login", timeout=2, context=context):
            return True
    except OSError:
        return False


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The panel with its own config and database."""
    config = parse_config(
        f'[hub]\nname = "test-hub"\ndata_dir = "{tmp_path}"\n'
        f'[line]\ncontrol_socket = "{tmp_path / "line.sock"}"\n'
    )
    app = create_app({"PHONEHUB": config, "TESTING": True})
    yield app
    feed = app.extensions.get("phonehub.live")  # a desk's live stream was opened
    if feed is not None:
        feed.close()
    app.extensions["phonehub.db"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser with no one signed in."""
    return app.test_client()


def first_live_message(client: FlaskClient) -> tuple[dict[str, Any], str]:
    """The desk's live stream's first message (the member of staff's call now) and its text."""
    response = client.get("/desk/events", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    try:
        text = next(iter(response.response)).decode()
    finally:
        response.close()  # as a browser leaving the page
    found = re.search(r"^data: (.*)$", text, re.MULTILINE)
    assert found, f"no message first on the stream: {text!r}"
    return json.loads(found.group(1)), text


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page hands the browser."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Accounts:
    """Creates accounts and signs them in, as a person at the browser would."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def add(self, role: Role, email: str | None = None, name: str = "Test Person",
            password: str = PASSWORD, opted_in: bool = True) -> str:  # fmt: skip
        email = email or f"{role.value}@school.example"
        with self.app.extensions["phonehub.db"].session() as session:
            users.add(session, email, name, role, password, actor="test", opted_in=opted_in)
        return email

    def login(self, client: FlaskClient, email: str, password: str = PASSWORD) -> int:
        """Sign in (setting up two-step sign-in if the account must): 302 once signed in."""
        token = csrf_token(client)
        response = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )
        if response.status_code == 302 and response.headers["Location"] == two_step.SET_UP:
            return 302 if two_step.set_up_client(client) == 200 else 400
        return response.status_code


@pytest.fixture
def accounts(app: Flask) -> Accounts:
    """Make accounts and sign them in."""
    return Accounts(app)
