"""The venue display page in a real headless Chromium, against ``civicpass serve --seed``.

A venue operator signs in, the page shows the venue's rotating code as a QR (read back from a screenshot
with zxing-cpp), replaces it when the window ends (4 seconds here instead of 5 minutes), keeps retrying
while the screen is offline, and a resident checks in with the code the page showed.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import IN_CI
from tests.e2e.serving import Server, serving

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOW_SECONDS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = {"CIVICPASS_DEMO_RESIDENTS": "100", "CIVICPASS_VENUE_CODE_WINDOW_SECONDS": str(WINDOW_SECONDS)}
    with serving(tmp_path_factory.mktemp("display"), settings) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is not installed (Debian packages chromium and chromium-driver; .ci/run installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _operator_password(server: Server) -> str:
    return server.wait_for(r"demo-venue-operator\s*│\s*([0-9a-f]{16})").group(1)


def _first_venue(server: Server, password: str) -> dict[str, str]:
    login = httpx2.post(
        server.url + "/v1/staff/sessions", json={"username": "demo-venue-operator", "password": password}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": "Bearer " + login.json()["access_token"]}
    listed = httpx2.get(server.url + "/v1/staff/venues", headers=headers).json()
    assert listed, "the demo venue operator runs venues"
    venue: dict[str, str] = listed[0]
    return venue


def _refusals(page: Page) -> list[str]:
    """What Chromium reports refusing under the page's Content-Security-Policy (filled as the page runs)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return refused


def _shown(page: Page) -> tuple[str, str]:
    """The token the page holds and the text of the QR it draws, read from a screenshot."""
    token = page.get_attribute("#code", "data-token")
    assert token is not None
    png = page.locator("#code svg").screenshot()
    scanned = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(scanned) == 1, "one QR on the screen"
    return token, scanned[0].text


def test_the_display_page_signs_in_shows_a_scannable_code_and_rotates_it_through_an_outage(
    server: Server, browser: Browser
) -> None:
    venue = _first_venue(server, _operator_password(server))
    context = browser.new_context()
    page = context.new_page()
    refused = _refusals(page)

    page.goto(f"{server.url}/console/venues/{venue['id']}/display")
    assert "/console/sign-in" in page.url  # no session yet: to the sign-in page and back
    page.fill("#username", "demo-venue-operator")
    page.fill("#password", _operator_password(server))
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/venues/{venue['id']}/display")
    assert venue["name"] in page.inner_text("main")

    first, drawn = _shown(page)
    assert first.startswith("CP1:")
    assert drawn == first  # the QR on the screen is the code

    # A selector, not a JavaScript predicate: the page's policy forbids evaluating strings as code.
    page.wait_for_selector(f'#code:not([data-token="{first}"])', timeout=15_000)
    second, drawn = _shown(page)
    assert second != first
    assert drawn == second  # the new code is drawn, not only held

    context.set_offline(True)
    page.wait_for_selector("#state", state="visible", timeout=15_000)  # says so, and keeps retrying
    context.set_offline(False)
    page.wait_for_selector("#state", state="hidden", timeout=15_000)
    third, drawn = _shown(page)
    assert third not in (first, second)
    assert drawn == third

    checked = httpx2.post(
        server.url + "/v1/me/check-ins",
        headers=server.enrol("13700000002", "林小红", "888")[0],
        json={"venue_code": third, "client_id": "browser-0001", "scanned_at": datetime.now(UTC).isoformat()},
    )
    assert checked.status_code == 201, checked.text
    assert (checked.json()["venue_id"], checked.json()["evidence"]) == (venue["id"], "medium")
    assert refused == []  # the pages' scripts and styles all ran under their policy
    context.close()


def test_the_printable_page_shows_the_static_code_and_does_not_rotate(
    server: Server, browser: Browser
) -> None:
    password = _operator_password(server)
    venue = _first_venue(server, password)
    context = browser.new_context()
    page = context.new_page()
    refused = _refusals(page)
    page.goto(f"{server.url}/console/sign-in?next=/console/venues/{venue['id']}/display%3Fstatic%3Dtrue")
    page.fill("#username", "demo-venue-operator")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/display?static=true")
    token, drawn = _shown(page)
    assert drawn == token
    page.wait_for_timeout((WINDOW_SECONDS + 2) * 1000)
    assert _shown(page) == (token, token)  # a printed code does not change
    assert "weaker evidence" in page.inner_text("main")
    with page.expect_event("console", predicate=lambda m: "print" in m.text, timeout=5000):
        page.evaluate("window.print = () => console.log('print asked')")
        page.click("#print")  # the print button's handler is the page's own script, not an attribute
    assert refused == []
    context.close()


def test_a_wrong_password_is_shown_on_the_sign_in_page_in_both_languages(
    server: Server, browser: Browser
) -> None:
    page = browser.new_page()
    refused = _refusals(page)
    page.goto(server.url + "/console/sign-in")
    page.fill("#username", "demo-venue-operator")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#problem", state="visible")
    shown = page.inner_text("#problem")
    assert "·" in shown
    assert re.search(r"[\u4e00-\u9fff]", shown)  # the zh-CN message
    assert re.search(r"[a-z]{3,}", shown)  # and the English one
    assert "/console/sign-in" in page.url
    assert refused == []
    page.close()
