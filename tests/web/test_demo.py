"""make demo's hub, as a new user meets it: it boots, serves its pages and makes a call."""

from __future__ import annotations

import re
import signal
import subprocess

from playwright.sync_api import Browser, expect

from tests.line.conftest import PHONEHUB, free_port, wait_until
from tests.web.conftest import ARTIFACTS, answers


def test_the_demo_boots_serves_its_pages_and_calls_the_practice_line(browser: Browser, tmp_path):
    port = free_port()
    command = [*PHONEHUB, "demo", "--data", str(tmp_path / "demo"), "--port", str(port)]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), timeout=60, what="the demo's panel")
        page = browser.new_context().new_page()
        page.goto(url)
        page.get_by_label("Email").fill("staff@demo.example")
        page.get_by_label("Password").fill("practice-phone-hub")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Call desk").click()
        page.get_by_role("link", name="Autumn welfare calls").click()
        call = page.get_by_role("button", name=re.compile(r"^Call .* · mobile ••• \d{3}$")).first
        call.click()
        expect(page.get_by_role("status").last).to_have_text(re.compile("Connected"),
                                                             timeout=20_000)  # fmt: skip
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-desk.png"), full_page=True)
        page.get_by_role("button", name="Hang up").click()
        expect(page.get_by_text("How did the call go?")).to_be_visible(timeout=15_000)
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, output.decode()
    text = output.decode()
    assert f"Open {url}/ in a browser" in text
    assert "staff@demo.example" in text
