"""The staff console's pages over HTTP, on SQLite and PostgreSQL: sign-in, venues, the venue display page.

The browser test (tests/e2e/test_venue_display_browser.py) watches the display page refresh in Chromium;
these check what the server renders and who may see it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.staff import Role
from tests.fakes import FakeClock
from tests.support import enrol, staff_headers

Headers = dict[str, str]


@pytest.fixture
def operator(client: TestClient, container: Container) -> Headers:
    return staff_headers(client, container, Role.VENUE_OPERATOR, "440100", "op-one")


def _venue(client: TestClient, headers: Headers, name: str = "天河城 Tianhe City") -> dict[str, Any]:
    response = client.post(
        "/v1/staff/venues", headers=headers, json={"name": name, "kind": "market", "region_code": "440106"}
    )
    assert response.status_code == 201, response.text
    venue: dict[str, Any] = response.json()
    return venue


def _attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found is not None, f"no {name} in the page"
    return found.group(1)


def test_the_display_page_shows_the_venues_current_code_as_a_qr_that_checks_a_resident_in(
    client: TestClient, operator: Headers, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    venue = _venue(client, operator)
    page = client.get(f"/console/venues/{venue['id']}/display", headers=operator)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "天河城 Tianhe City" in html
    assert "<svg" in html
    assert _attribute(html, "data-static") == "false"
    assert _attribute(html, "data-window-end") == "2022-05-03T08:05:00+00:00"
    token = _attribute(html, "data-token")
    assert token.startswith("CP1:")
    _, resident = enrol(client, messenger)
    checked = client.post(
        "/v1/me/check-ins",
        headers=resident,
        json={"venue_code": token, "client_id": "client-0001", "scanned_at": clock.now().isoformat()},
    )
    assert checked.status_code == 201, checked.text
    assert (checked.json()["venue_id"], checked.json()["evidence"]) == (venue["id"], "medium")


def test_the_printable_page_shows_the_static_code_and_says_it_is_weaker(
    client: TestClient, operator: Headers, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    venue = _venue(client, operator)
    html = client.get(f"/console/venues/{venue['id']}/display?static=true", headers=operator).text
    assert _attribute(html, "data-static") == "true"
    assert "Printed code: weaker evidence" in html
    assert "setTimeout" not in html  # a printed code is not refreshed
    _, resident = enrol(client, messenger)
    checked = client.post(
        "/v1/me/check-ins",
        headers=resident,
        json={
            "venue_code": _attribute(html, "data-token"),
            "client_id": "client-0002",
            "scanned_at": clock.now().isoformat(),
        },
    )
    assert (checked.json()["evidence"], checked.json()["flags"]) == ("weak", ["static_code"])


def test_without_a_session_the_display_page_sends_the_browser_to_sign_in_and_back(
    client: TestClient, operator: Headers
) -> None:
    venue = _venue(client, operator)
    page = client.get(f"/console/venues/{venue['id']}/display?static=true", follow_redirects=False)
    assert page.status_code == 303
    target = urlsplit(page.headers["location"])
    assert target.path == "/console/sign-in"
    assert parse_qs(target.query)["next"] == [f"/console/venues/{venue['id']}/display?static=true"]
    sign_in = client.get(page.headers["location"])
    assert _attribute(sign_in.text, "data-next") == f"/console/venues/{venue['id']}/display?static=true"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/v1/me"])
def test_the_sign_in_page_only_sends_the_browser_back_into_the_console(
    client: TestClient, target: str
) -> None:
    page = client.get("/console/sign-in", params={"next": target})
    assert page.status_code == 200
    assert _attribute(page.text, "data-next") == "/console/venues"


def test_another_operators_venue_display_is_a_403_page_with_the_reason(
    client: TestClient, container: Container, operator: Headers
) -> None:
    venue = _venue(client, operator)
    other = staff_headers(client, container, Role.VENUE_OPERATOR, "440100", "op-two")
    page = client.get(f"/console/venues/{venue['id']}/display", headers=other)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert _attribute(page.text, "data-reason") == "not_venue_operator"
    assert "CP1:" not in page.text


def test_an_unknown_venue_display_is_a_404_page(client: TestClient, operator: Headers) -> None:
    page = client.get("/console/venues/no-such-venue/display", headers=operator)
    assert page.status_code == 404
    assert _attribute(page.text, "data-reason") == "venue_not_found"


def test_an_operator_sees_their_venues_with_links_to_their_display_pages(
    client: TestClient, container: Container, operator: Headers
) -> None:
    mine = _venue(client, operator, "我的餐厅")
    other = staff_headers(client, container, Role.VENUE_OPERATOR, "440100", "op-two")
    _venue(client, other, "别人的餐厅")
    html = client.get("/console/venues", headers=operator).text
    assert "我的餐厅" in html
    assert "别人的餐厅" not in html
    assert f'href="/console/venues/{mine["id"]}/display"' in html
    assert f'href="/console/venues/{mine["id"]}/display?static=true"' in html


def test_a_resident_token_does_not_open_the_console(
    client: TestClient, operator: Headers, messenger: MemoryMessenger
) -> None:
    venue = _venue(client, operator)
    _, resident = enrol(client, messenger)
    page = client.get(f"/console/venues/{venue['id']}/display", headers=resident)
    assert page.status_code == 403
    assert _attribute(page.text, "data-reason") == "staff_only"


@pytest.mark.parametrize("as_operator", [True, False])
@pytest.mark.parametrize(
    "path",
    [
        "/console/venues/{garbage}/display",
        "/console/venues/{garbage}/display?static={garbage}",
        "/console/sign-in?next={garbage}",
        "/console/venues?{garbage}={garbage}",
    ],
)
def test_garbage_in_console_urls_never_breaks_a_page(
    client: TestClient, operator: Headers, path: str, as_operator: bool
) -> None:
    for garbage in ["x" * 5000, "-1", "' OR 1=1 --", "%25", "张三", "\u202e", "%20", "..%2f..%2fetc"]:
        page = client.get(
            path.format(garbage=garbage), headers=operator if as_operator else {}, follow_redirects=False
        )
        assert page.status_code < 500, (path, garbage, page.text[:200])
        assert page.status_code in (200, 303, 400, 403, 404, 422), (path, garbage, page.status_code)


def test_every_page_runs_only_its_own_nonce_marked_script_and_style(
    client: TestClient, operator: Headers
) -> None:
    """Content-Security-Policy on every console page (errors included): a fresh nonce per response, on
    every inline script and style of the page and nowhere else; no inline event handlers; no framing."""
    venue = _venue(client, operator)
    pages = [
        client.get("/console/sign-in"),
        client.get("/console/venues", headers=operator),
        client.get(f"/console/venues/{venue['id']}/display", headers=operator),
        client.get(f"/console/venues/{venue['id']}/display?static=true", headers=operator),
        client.get("/console/venues/00000000-0000-4000-8000-000000000000/display", headers=operator),
    ]
    nonces = set()
    for page in pages:
        policy = page.headers["content-security-policy"]
        (nonce,) = re.findall(r"script-src 'nonce-([A-Za-z0-9_-]{20,})'", policy)
        assert f"style-src 'nonce-{nonce}'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        tags = re.findall(r"<(script|style)\b([^>]*)>", page.text)
        assert tags, "every page has its style"
        assert all(f'nonce="{nonce}"' in attributes for _, attributes in tags), (page.url, tags)
        assert not re.search(r"\son[a-z]+=", page.text), "no inline event handler"
        nonces.add(nonce)
    assert len(nonces) == len(pages)  # drawn per response
