"""The host's guards: security headers, cookie flags, the body limit, sign-in throttling and
session expiry and sign-out."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import itsdangerous
import pytest
from sqlalchemy import func, select

import core.web.auth
from core.app import create_app
from core.config import load_settings
from core.exceptions import ConfigError
from core.models import Assessment, Email, Question
from core.web.engine_api import issue_engine_key
from core.web.security import CONTENT_SECURITY_POLICY, SignInThrottle
from tests.browser import launch_chromium, skip_without_chromium
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Stack, langos_env, write_plugins
from tests.helpers_web import (
    BASE_URL,
    Web,
    csrf_in,
    open_web,
    order_assessment,
    running,
    seed_workspace,
    sign_in,
    timeline_kinds,
)
from tests.test_connector_ashby import basic, first_type, start_body

LIMIT = 65536
SESSION_COOKIE = "langos_session"
EXPECTED_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with open_web(tmp_path) as running_web:
        yield running_web


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    """Return a browser-like client whose requests come from client address ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def attempt_sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/login")
    form = {"csrf_token": csrf_in(page.text), "email": email, "password": password, "next": "/"}
    return await client.post("/login", data=form)


def forged_session(app: Any, data: dict[str, Any]) -> str:
    """Sign ``data`` as a session cookie the way Starlette's SessionMiddleware does."""
    signer = itsdangerous.TimestampSigner(str(app.state.host.secret_key))
    return signer.sign(base64.b64encode(json.dumps(data).encode())).decode()


def assert_security_headers(response: httpx.Response, *, referrer: str = "same-origin") -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    for name, value in {**EXPECTED_HEADERS, "referrer-policy": referrer}.items():
        assert response.headers.get(name) == value, f"{name} on {where}"
    assert "strict-transport-security" not in response.headers, where


# Security headers and cookie flags


async def test_headers_on_pages_json_and_connector_routes(stack: Stack) -> None:
    browser = stack.admin.client
    responses = [
        await browser.get("/login"),
        await browser.get("/settings/integrations"),
        await browser.get("/healthz"),
        await browser.get("/static/app.css"),
        await browser.get("/no-such-page"),
        await stack.http.post(stack.webhook_url + "/assessment.list", json={}),
        await stack.http.get(stack.langos_url + "/api/engine/assessments/unknown"),
    ]
    assert [response.status_code for response in responses] == [200, 200, 200, 200, 404, 401, 401]
    for response in responses:
        assert_security_headers(response)


async def test_candidate_pages_keep_no_referrer(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)

    welcome = await web.client.get(f"/take/{token}")
    started = await web.client.post(f"/take/{token}/start", data={"csrf_token": csrf_in(welcome.text)}, follow_redirects=True)

    assert welcome.status_code == 200
    assert_security_headers(welcome, referrer="no-referrer")
    assert started.status_code == 200
    assert 'data-testid="question"' in started.text
    assert_security_headers(started, referrer="no-referrer")


async def test_session_cookie_flags_over_http(web: Web) -> None:
    response = await sign_in(web.client, web.seeded.admin_email)

    cookie = response.headers["set-cookie"]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert response.status_code == 303
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert f"max-age={8 * 3600}" in flags
    assert "secure" not in flags


async def test_https_public_url_adds_hsts_and_secure_cookie(tmp_path: Path) -> None:
    write_plugins(tmp_path / "plugins.toml")
    settings = load_settings(langos_env(tmp_path, LANGOS_PUBLIC_URL="https://langos.example.test"), run_worker=False)
    app = create_app(settings)

    # httpx sends a Secure cookie only over https, as browsers do.
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        seeded = await seed_workspace(app)
        health = await client.get("/healthz")
        signed_in = await sign_in(client, seeded.admin_email)

    flags = [part.strip().lower() for part in signed_in.headers["set-cookie"].split(";")]
    assert health.headers["strict-transport-security"] == "max-age=31536000"
    assert health.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert signed_in.status_code == 303
    assert "secure" in flags
    assert "httponly" in flags
    assert "samesite=lax" in flags


def assert_no_inline_code(name: str, page: httpx.Response) -> None:
    assert page.status_code == 200, name
    assert INLINE_SCRIPT.search(page.text) is None, name
    assert EVENT_HANDLER_ATTRIBUTE.search(page.text) is None, name
    assert "<style" not in page.text, name


async def test_admin_pages_have_no_inline_scripts(stack: Stack) -> None:
    connected = await stack.admin.connect()
    pages = {
        "login": await stack.http.get(stack.langos_url + "/login"),
        "integrations": connected,
        "assessments": await stack.admin.client.get("/assessments"),
        "deliveries": await stack.admin.client.get("/settings/integrations/ashby/deliveries"),
    }

    assert 'data-confirm="Revoke' in connected.text
    assert 'data-confirm="Disconnect Ashby?' in connected.text
    assert 'src="/static/confirm.js"' in connected.text
    for name, page in pages.items():
        assert_no_inline_code(name, page)


async def test_candidate_pages_have_no_inline_scripts(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)
    welcome = await web.client.get(f"/take/{token}")
    questions = await web.client.post(
        f"/take/{token}/start", data={"csrf_token": csrf_in(welcome.text)}, follow_redirects=True
    )

    assert 'src="/static/answers.js"' in questions.text
    assert_no_inline_code("welcome", welcome)
    assert_no_inline_code("questions", questions)


# Request body limit


def test_max_body_bytes_setting() -> None:
    assert load_settings({}).max_body_bytes == LIMIT
    assert load_settings({"LANGOS_MAX_BODY_BYTES": "1000"}).max_body_bytes == 1000
    with pytest.raises(ConfigError, match="LANGOS_MAX_BODY_BYTES='lots' is not a int"):
        load_settings({"LANGOS_MAX_BODY_BYTES": "lots"})


async def count_assessments(stack: Stack) -> int:
    async with stack.langos.state.host.session() as session:
        return await session.scalar(select(func.count()).select_from(Assessment))


def padded(body: dict[str, Any], size: int) -> bytes:
    """Return ``body`` as JSON followed by spaces up to ``size`` bytes."""
    raw = json.dumps(body).encode()
    return raw + b" " * (size - len(raw))


async def test_ashby_body_over_limit_gets_413_envelope(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    headers = {**basic(key), "Content-Type": "application/json"}
    url = stack.webhook_url + "/assessment.start"

    response = await stack.http.post(url, content=padded(start_body(type_id), LIMIT + 1), headers=headers)

    envelope = response.json()
    assert response.status_code == 413
    assert envelope["success"] is False
    assert envelope["errors"] == ["request_too_large"]
    assert envelope["errorInfo"]["code"] == "request_too_large"
    assert f"limit of {LIMIT} bytes" in envelope["errorInfo"]["message"]
    assert_security_headers(response)
    assert await count_assessments(stack) == 0


async def test_ashby_chunked_body_over_limit_gets_413(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    body = padded(start_body(type_id), LIMIT + 16 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start:start + 16 * 1024]

    response = await stack.http.post(
        stack.webhook_url + "/assessment.start", content=chunks(), headers={**basic(key), "Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errorInfo"]["code"] == "request_too_large"
    assert await count_assessments(stack) == 0


async def test_ashby_body_at_limit_is_accepted(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)

    response = await stack.http.post(
        stack.webhook_url + "/assessment.start",
        content=padded(start_body(type_id), LIMIT),
        headers={**basic(key), "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert await count_assessments(stack) == 1


async def test_engine_api_body_over_limit_gets_413(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    async with web.app.state.host.session() as session:
        key, _ = await issue_engine_key(web.app.state.host, session, web.seeded.workspace_id, "test")
        await session.commit()
    before = await timeline_kinds(web.app, assessment_id)
    body = padded({"event_id": "event-1", "type": "started"}, LIMIT + 1)

    response = await web.client.post(
        f"/api/engine/assessments/{assessment_id}/events",
        content=body,
        headers={"Authorization": f"Bearer {key.reveal()}", "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert f"limit of {LIMIT} bytes" in response.json()["error"]
    assert await timeline_kinds(web.app, assessment_id) == before


async def test_connector_without_own_handling_gets_413(tmp_path: Path) -> None:
    plugins = '[connectors.ashby]\nenabled = true\n\n[connectors.acme]\nmodule = "tests.acme_connector"\n'
    write_plugins(tmp_path / "plugins.toml", plugins)
    app = create_app(load_settings(langos_env(tmp_path), run_worker=False))

    async with running(app) as client:
        response = await client.post("/api/ats/acme/orders", content=b"{" + b" " * LIMIT + b"}",
                                     headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json() == {
        "error": f"The request body is larger than the limit of {LIMIT} bytes; send a smaller body "
        "(a Langos admin sets the limit with LANGOS_MAX_BODY_BYTES).",
        "field": "body",
        "max_bytes": LIMIT,
    }
    assert_security_headers(response)


# Sign-in throttling


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_blocks_after_five_failures() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)

    for _ in range(4):
        throttle.record_failure("ada@example.com", "10.0.0.1")
        clock.now += 10
    assert throttle.retry_after("ada@example.com", "10.0.0.1") is None
    throttle.record_failure("ada@example.com", "10.0.0.1")

    assert throttle.retry_after("ADA@example.com", "10.0.0.9") == pytest.approx(15 * 60 - 40)
    assert throttle.retry_after("grace@example.com", "10.0.0.1") == pytest.approx(15 * 60 - 40)
    assert throttle.retry_after("grace@example.com", "10.0.0.9") is None
    clock.now += 15 * 60 - 40
    assert throttle.retry_after("ada@example.com", "10.0.0.1") is None


def test_throttle_clear_keeps_client_count() -> None:
    throttle = SignInThrottle(clock=FakeClock())
    for _ in range(5):
        throttle.record_failure("ada@example.com", "10.0.0.1")

    throttle.clear("Ada@Example.com")

    assert throttle.retry_after("ada@example.com", "10.0.0.2") is None
    assert throttle.retry_after("ada@example.com", "10.0.0.1") is not None


def test_throttle_sweeps_stale_keys() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock)
    for index in range(1000):
        throttle.record_failure(f"user{index}@example.com", None)
    clock.now += 15 * 60

    for index in range(100):
        throttle.record_failure(f"late{index}@example.com", None)

    assert len(throttle._failures) < 200


async def test_sign_in_throttled_per_email(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    web.app.state.sign_in_throttle = SignInThrottle(clock=clock)
    checks = []
    verify = core.web.auth.verify_password
    monkeypatch.setattr(core.web.auth, "verify_password", lambda *args: checks.append(1) or verify(*args))
    email = web.seeded.admin_email

    for attempt in range(5):
        async with client_from(web.app, f"10.0.0.{attempt + 1}") as client:
            failed = await attempt_sign_in(client, email.upper(), "wrong-password")
            assert failed.status_code == 401
        clock.now += 60
    async with client_from(web.app, "10.0.1.1") as client:
        checks.clear()
        blocked = await attempt_sign_in(client, email, ADMIN_PASSWORD)

    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == str(15 * 60 - 5 * 60)
    assert "Too many failed sign-ins" in blocked.text
    assert "Try again in 10 minutes, after" in blocked.text
    assert checks == []
    assert_security_headers(blocked)

    clock.now += 10 * 60
    async with client_from(web.app, "10.0.1.1") as client:
        allowed = await attempt_sign_in(client, email, ADMIN_PASSWORD)
    assert allowed.status_code == 303


async def test_sign_in_throttled_per_client(web: Web) -> None:
    web.app.state.sign_in_throttle = SignInThrottle(clock=FakeClock())

    async with client_from(web.app, "10.0.2.1") as client:
        for attempt in range(5):
            failed = await attempt_sign_in(client, f"nobody{attempt}@example.com", "wrong-password")
            assert failed.status_code == 401
        blocked = await attempt_sign_in(client, web.seeded.admin_email, ADMIN_PASSWORD)
    async with client_from(web.app, "10.0.2.2") as other:
        elsewhere = await attempt_sign_in(other, web.seeded.admin_email, ADMIN_PASSWORD)

    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == str(15 * 60)
    assert elsewhere.status_code == 303


async def test_sign_in_success_clears_email_count(web: Web) -> None:
    web.app.state.sign_in_throttle = SignInThrottle(clock=FakeClock())
    email = web.seeded.admin_email

    for round_number in range(2):
        for attempt in range(4):
            async with client_from(web.app, f"10.0.{3 + round_number}.{attempt + 1}") as client:
                assert (await attempt_sign_in(client, email, "wrong-password")).status_code == 401
        async with client_from(web.app, f"10.0.{3 + round_number}.9") as client:
            signed_in = await attempt_sign_in(client, email, ADMIN_PASSWORD)
        assert signed_in.status_code == 303, f"round {round_number}"


# Session expiry and sign-out


async def test_signed_out_cookie_no_longer_opens_settings(stack: Stack) -> None:
    cookie = stack.admin.client.cookies.get(SESSION_COOKIE)
    assert (await stack.admin.client.get("/settings/integrations")).status_code == 200

    signed_out = await stack.admin.post_form("/logout")

    assert signed_out.status_code == 303
    # The new cookie carries only the "signed out" notice.
    assert stack.admin.client.cookies.get(SESSION_COOKIE) != cookie
    assert (await stack.admin.client.get("/settings/integrations")).status_code == 303
    notice = await stack.admin.client.get("/login")
    assert "You are signed out." in notice.text
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as copy:
        replayed = await copy.get("/settings/integrations", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


async def test_logout_without_csrf_keeps_session(stack: Stack) -> None:
    response = await stack.admin.client.post("/logout", data={"csrf_token": "wrong"})

    assert response.status_code == 303
    assert (await stack.admin.client.get("/settings/integrations")).status_code == 200


async def test_session_older_than_max_age_rejected(web: Web) -> None:
    await sign_in(web.client, web.seeded.admin_email)
    user_id = json.loads(base64.b64decode(web.client.cookies[SESSION_COOKIE].split(".")[0]))["user_id"]
    max_age = web.app.state.settings.session_max_age
    sessions = {
        "fresh": ({"signed_in_at": int(time.time()) - 60, "session_id": secrets.token_urlsafe(16)}, 200),
        "expired": ({"signed_in_at": int(time.time()) - max_age - 60, "session_id": secrets.token_urlsafe(16)}, 303),
        "without signed_in_at": ({"session_id": secrets.token_urlsafe(16)}, 303),
    }

    for name, (fields, expected) in sessions.items():
        cookie = forged_session(web.app, {"user_id": user_id, **fields})
        async with client_from(web.app, "127.0.0.1") as client:
            client.cookies.set(SESSION_COOKIE, cookie)
            response = await client.get("/assessments")
        assert response.status_code == expected, name


# Content Security Policy in a browser

@skip_without_chromium()
async def test_pages_work_under_csp_in_browser(stack: Stack) -> None:
    from playwright.async_api import expect

    await stack.connect_and_configure()
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    await stack.http.post(stack.ashby_url + "/_fake/langos/start", json={"candidate": 0, "assessment_type_id": type_id})
    async with stack.langos.state.host.session() as session:
        message = await session.scalar(select(Email))
    link = re.search(r"https?://\S+/take/\S+", message.body_text).group(0)

    async with launch_chromium() as browser:
        page = await (await browser.new_context()).new_page()
        violations: list[str] = []
        page.on("console", lambda entry: violations.append(entry.text) if "Content Security Policy" in entry.text else None)

        # The policy is enforced: an injected event handler does not run.
        await page.goto(stack.langos_url + "/login")
        await page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=/x onerror=\"window.ran=1\">')")
        await page.wait_for_timeout(200)
        assert await page.evaluate("window.ran") is None
        assert violations
        violations.clear()

        await page.fill("input[name=email]", ADMIN_EMAIL)
        await page.fill("input[name=password]", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.goto(stack.langos_url + "/settings/integrations")
        revoke = page.locator("#connector-ashby button:has-text('Revoke')")
        await expect(revoke).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.dismiss())
        await revoke.click()
        await page.wait_for_timeout(200)
        await expect(revoke).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        await revoke.click()
        await expect(revoke).to_have_count(0)

        # The correct option for every question fills every category's bar.
        async with stack.langos.state.host.session() as session:
            correct = dict((await session.execute(select(Question.id, Question.correct_option))).all())
        await page.goto(link)
        await page.click("button:has-text('Start the assessment')")
        questions = page.get_by_test_id("question")
        await expect(questions.first).to_be_visible()
        for index in range(await questions.count()):
            question_id = await questions.nth(index).get_attribute("data-question-id")
            await questions.nth(index).locator(f"input[value='{correct[question_id]}']").check()
            await expect(page.locator("#save-status")).to_have_text("Answer saved.")
        await page.click("button:has-text('Submit answers')")
        await expect(page.get_by_test_id("message")).to_contain_text("submitted")

        async with stack.langos.state.host.session() as session:
            assessment_id = await session.scalar(select(Assessment.id))
        await page.goto(f"{stack.langos_url}/reports/{assessment_id}")
        await expect(page.get_by_test_id("score")).to_be_visible()
        # The score chart is inline SVG sized by attributes: each full bar is as wide as its track.
        widths = await page.eval_on_selector_all(
            ".chart-fill",
            "bars => bars.map(bar => [bar.getBoundingClientRect().width,"
            " bar.previousElementSibling.getBoundingClientRect().width])",
        )

    assert violations == []
    # The overall score and three categories.
    assert len(widths) == 4
    for width, full in widths:
        assert full > 0
        assert width == pytest.approx(full, abs=1)
