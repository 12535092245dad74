"""The invitation lifecycle: expiry, reminders, an admin's resend, extend and cancel, and what Ashby receives."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from connectors.ashby.payloads import update_body
from core import engine, invitations
from core.exceptions import Conflict
from core.delivery import build_update
from core.models import Assessment, AuditEvent, Delivery, Email, TimelineEvent, Workspace, utcnow
from core.seed import create_admin
from tests.conftest import Stack
from tests.helpers_web import (
    ADMIN_PASSWORD,
    BASE_URL,
    Web,
    build_app,
    cancel,
    client_for,
    csrf_in,
    open_web,
    order_assessment,
    running,
    seed_workspace,
    sign_in,
    timeline_kinds,
)
from tests.live import wait_for
from tests.test_cli import Cli

TAKE_LINK = re.compile(r"/take/([A-Za-z0-9_-]+)")
EXPIRED = "This invitation has expired. Ask the employer to send a new one."
CANCELLED = "This assessment was cancelled by the employer and can no longer be taken."
DAY = dt.timedelta(days=1)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with open_web(tmp_path) as running_web:
        yield running_web


async def load(web: Web, assessment_id: str) -> Assessment:
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return assessment


async def set_columns(app: Any, assessment_id: str, **values: Any) -> None:
    async with app.state.host.session() as session:
        await session.execute(update(Assessment).where(Assessment.id == assessment_id).values(**values))
        await session.commit()


async def deliveries(app: Any, assessment_id: str) -> list[Delivery]:
    async with app.state.host.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.assessment_id == assessment_id).order_by(Delivery.sequence)
        )
        return list(rows)


async def newest_token(app: Any, assessment_id: str, kind: str = "invitation") -> str:
    async with app.state.host.session() as session:
        message = await session.scalar(
            select(Email)
            .where(Email.assessment_id == assessment_id, Email.kind == kind)
            .order_by(Email.created_at.desc())
            .limit(1)
        )
    assert message is not None, f"no {kind} email for assessment {assessment_id}"
    match = TAKE_LINK.search(message.body_text)
    assert match is not None
    return match.group(1)


async def audit_actions(app: Any, target: str) -> list[str]:
    async with app.state.host.session() as session:
        rows = await session.scalars(select(AuditEvent.action).where(AuditEvent.target == target))
        return list(rows)


async def signed_in_admin(web: Web, assessment_id: str) -> str:
    """Sign the web client in as the admin and return the CSRF token from the report page."""
    await sign_in(web.client, web.seeded.admin_email)
    page = await web.client.get(f"/reports/{assessment_id}")
    assert page.status_code == 200
    return csrf_in(page.text)


async def post_action(web: Web, assessment_id: str, action: str, csrf: str, **fields: str) -> httpx.Response:
    """Post one of the report's invitation forms and return the report page it redirects to."""
    response = await web.client.post(
        f"/reports/{assessment_id}/{action}", data={"csrf_token": csrf, **fields}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/reports/{assessment_id}"
    return await web.client.get(response.headers["location"])


async def expire_now(app: Any) -> int:
    async with app.state.host.session() as session:
        expired = await invitations.expire_due(session)
        await session.commit()
    return expired


# ---- expiry ---------------------------------------------------------------------------------


async def test_sweep_expires_only_unstarted(web: Web) -> None:
    waiting, waiting_token = await order_assessment(web.app, web.seeded, "application-1")
    started, started_token = await order_assessment(web.app, web.seeded, "application-2")
    csrf = csrf_in((await web.client.get(f"/take/{started_token}")).text)
    assert (await web.client.post(f"/take/{started_token}/start", data={"csrf_token": csrf})).status_code == 303
    past = utcnow() - dt.timedelta(hours=1)
    await set_columns(web.app, waiting, expires_at=past)
    await set_columns(web.app, started, expires_at=past)

    assert await expire_now(web.app) == 1
    assert await expire_now(web.app) == 0

    expired = await load(web, waiting)
    assert expired.status == "expired"
    assert expired.expired_at == past
    assert expired.cancelled_reason == f"The invitation expired on {past:%Y-%m-%d %H:%M} UTC before the candidate started."
    assert "expired" in await timeline_kinds(web.app, waiting)
    assert [row.event for row in await deliveries(web.app, waiting)] == ["expired"]
    assert (await load(web, started)).status == "started"
    page = await web.client.get(f"/take/{waiting_token}")
    assert page.status_code == 410
    assert EXPIRED in page.text


async def test_start_after_expiry_expires_at_once(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    welcome = await web.client.get(f"/take/{token}")
    await set_columns(web.app, assessment_id, expires_at=utcnow() - dt.timedelta(minutes=1))

    response = await web.client.post(f"/take/{token}/start", data={"csrf_token": csrf_in(welcome.text)})
    reloaded = await web.client.get(f"/take/{token}")
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        with pytest.raises(Conflict, match="This invitation has expired"):
            await engine.begin(session, assessment)
        # The handler rolls back after Conflict; the expiry was committed before it.
        await session.rollback()

    assert welcome.status_code == 200
    assert response.status_code == 409
    assert reloaded.status_code == 410
    assert EXPIRED in reloaded.text
    assert EXPIRED in response.text
    assert (await load(web, assessment_id)).status == "expired"
    assert [row.event for row in await deliveries(web.app, assessment_id)] == ["expired"]


# ---- reminders ------------------------------------------------------------------------------


async def test_reminder_sent_once_with_new_link(web: Web) -> None:
    assessment_id, old_token = await order_assessment(web.app, web.seeded)
    now = utcnow()
    await set_columns(web.app, assessment_id, created_at=now - 6 * DAY, expires_at=now + dt.timedelta(hours=2))
    async with web.app.state.host.session() as session:
        not_sent_yet = await invitations.send_due_reminders(session, public_url=BASE_URL, threshold=DAY)
        await session.execute(update(Email).where(Email.assessment_id == assessment_id).values(status="sent"))
        await session.commit()

    async with web.app.state.host.session() as session:
        first = await invitations.send_due_reminders(session, public_url=BASE_URL, threshold=DAY)
        await session.commit()
    async with web.app.state.host.session() as session:
        second = await invitations.send_due_reminders(session, public_url=BASE_URL, threshold=DAY)
        await session.commit()

    assert not_sent_yet == 0
    assert first == 1
    assert second == 0
    assert (await load(web, assessment_id)).reminder_sent_at is not None
    new_token = await newest_token(web.app, assessment_id, "reminder")
    assert new_token != old_token
    assert (await web.client.get(f"/take/{new_token}")).status_code == 200
    assert (await web.client.get(f"/take/{old_token}")).status_code == 404


async def test_reminder_lead_halves_short_windows(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    now = utcnow()
    await set_columns(web.app, assessment_id, created_at=now, expires_at=now + dt.timedelta(hours=4))
    async with web.app.state.host.session() as session:
        await session.execute(update(Email).where(Email.assessment_id == assessment_id).values(status="sent"))
        await session.commit()
    assessment = await load(web, assessment_id)

    assert invitations.reminder_lead(assessment, DAY) == dt.timedelta(hours=2)
    async with web.app.state.host.session() as session:
        early = await invitations.send_due_reminders(
            session, now + dt.timedelta(hours=1), public_url=BASE_URL, threshold=DAY
        )
        due = await invitations.send_due_reminders(
            session, now + dt.timedelta(hours=2, minutes=30), public_url=BASE_URL, threshold=DAY
        )
        await session.commit()
    assert early == 0
    assert due == 1


# ---- an admin's actions on the report page --------------------------------------------------


async def test_resend_issues_new_link(web: Web) -> None:
    assessment_id, old_token = await order_assessment(web.app, web.seeded)
    csrf = await signed_in_admin(web, assessment_id)
    report = await web.client.get(f"/reports/{assessment_id}")

    page = await post_action(web, assessment_id, "resend", csrf)

    assert 'data-testid="invitation-status" data-status="queued"' in report.text
    assert "English" in report.text
    for form in ("resend-form", "resend-note", "extend-form", "extend-note", "cancel-form"):
        assert f'data-testid="{form}"' in report.text
    assert "data-confirm=" in report.text
    assert '<script src="/static/confirm.js"></script>' in report.text
    assert "The invitation was sent again to ada@example.com" in page.text
    assert "The link in earlier emails no longer works." in page.text
    new_token = await newest_token(web.app, assessment_id)
    assert new_token != old_token
    async with client_for(web.app) as candidate:
        assert (await candidate.get(f"/take/{old_token}")).status_code == 404
        assert (await candidate.get(f"/take/{new_token}")).status_code == 200
    assert "invitation_resent" in await timeline_kinds(web.app, assessment_id)
    assert await audit_actions(web.app, assessment_id) == ["invitation_resent"]


async def test_extend_open_invitation_keeps_link(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    before = (await load(web, assessment_id)).expires_at
    csrf = await signed_in_admin(web, assessment_id)

    page = await post_action(web, assessment_id, "extend", csrf, days="3")

    after = (await load(web, assessment_id)).expires_at
    assert after == before + 3 * DAY
    assert f"The invitation now expires at {after:%Y-%m-%d %H:%M} UTC." in page.text
    assert [row.event for row in await deliveries(web.app, assessment_id)] == ["invited"]
    assert await audit_actions(web.app, assessment_id) == ["invitation_extended"]
    async with client_for(web.app) as candidate:
        assert (await candidate.get(f"/take/{token}")).status_code == 200


async def test_extend_reopens_expired_invitation(web: Web) -> None:
    assessment_id, old_token = await order_assessment(web.app, web.seeded)
    await set_columns(web.app, assessment_id, expires_at=utcnow() - DAY)
    await expire_now(web.app)
    csrf = await signed_in_admin(web, assessment_id)

    page = await post_action(web, assessment_id, "extend", csrf, days="2")

    reopened = await load(web, assessment_id)
    assert "The invitation was reopened until" in page.text
    assert reopened.status == "invited"
    assert reopened.cancelled_reason is None
    assert reopened.expired_at is None
    assert dt.timedelta(days=2) - dt.timedelta(minutes=1) < reopened.expires_at - utcnow() <= 2 * DAY
    assert [row.event for row in await deliveries(web.app, assessment_id)] == ["expired", "invited"]
    new_token = await newest_token(web.app, assessment_id)
    async with client_for(web.app) as candidate:
        assert (await candidate.get(f"/take/{old_token}")).status_code == 404
        assert (await candidate.get(f"/take/{new_token}")).status_code == 200


async def test_extend_rejected_after_newer_order(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await set_columns(web.app, assessment_id, expires_at=utcnow() - DAY)
    # The repeated order expires the old invitation itself, before any sweep.
    newer_id, _ = await order_assessment(web.app, web.seeded)
    csrf = await signed_in_admin(web, assessment_id)

    page = await post_action(web, assessment_id, "extend", csrf, days="2")

    assert newer_id != assessment_id
    assert f"The ATS has ordered a newer assessment ({newer_id})" in page.text
    assert (await load(web, assessment_id)).status == "expired"
    assert [row.event for row in await deliveries(web.app, assessment_id)] == ["expired"]
    assert await audit_actions(web.app, assessment_id) == []


async def test_extend_rejects_invalid_days(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    before = (await load(web, assessment_id)).expires_at
    csrf = await signed_in_admin(web, assessment_id)

    for days in ("0", "91", "two", ""):
        page = await post_action(web, assessment_id, "extend", csrf, days=days)

        assert f"Days to add must be a whole number from 1 to 90, not {days!r}." in html.unescape(page.text)
        entered = days or "7"
        assert f'name="days" min="1" max="90" step="1" value="{entered}"' in page.text
    assert (await load(web, assessment_id)).expires_at == before
    assert await audit_actions(web.app, assessment_id) == []


async def test_cancel_keeps_rejected_reason(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    csrf = await signed_in_admin(web, assessment_id)
    reason = "Filled " + "x" * 500

    page = await post_action(web, assessment_id, "cancel", csrf, reason=reason)
    reloaded = await web.client.get(f"/reports/{assessment_id}")

    assert "The reason has 507 characters; shorten it to at most 500." in page.text
    assert f'value="{reason}"' in page.text
    assert f'value="{reason}"' not in reloaded.text
    assert (await load(web, assessment_id)).status == "invited"


async def test_cancel_during_session_stops_candidate(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    async with client_for(web.app) as candidate:
        csrf = csrf_in((await candidate.get(f"/take/{token}")).text)
        assert (await candidate.post(f"/take/{token}/start", data={"csrf_token": csrf})).status_code == 303
        admin_csrf = await signed_in_admin(web, assessment_id)
        missing = await post_action(web, assessment_id, "cancel", admin_csrf, reason="  ")

        page = await post_action(web, assessment_id, "cancel", admin_csrf, reason="The position was filled.")

        question_id = (await load(web, assessment_id)).assessment_type.categories[0].questions[0].id
        answer = await candidate.post(
            f"/take/{token}/answer", json={"question_id": question_id, "option": 0}, headers={"X-CSRF-Token": csrf}
        )
        submitted = await candidate.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert "The reason is missing." in missing.text
    assert 'data-testid="cancel-form"' in missing.text
    assert 'data-testid="resend-note"' not in missing.text
    assert 'data-testid="extend-note"' not in missing.text
    assert "The assessment was cancelled." in page.text
    assert "No score: the assessment was cancelled." in page.text
    assert answer.status_code == 409
    assert answer.json()["error"] == CANCELLED
    assert submitted.status_code == 409
    assert CANCELLED in submitted.text
    cancelled = await load(web, assessment_id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_reason == f"Cancelled in Langos by {web.seeded.admin_email}: The position was filled."
    assert [row.event for row in await deliveries(web.app, assessment_id)] == ["started", "cancelled"]
    assert await audit_actions(web.app, assessment_id) == ["assessment_cancelled"]
    again = await post_action(web, assessment_id, "cancel", admin_csrf, reason="Twice")
    assert "this assessment is cancelled" in again.text


async def test_ats_cancel_sets_reason_without_update(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)

    await cancel(web.app, web.seeded, assessment_id)

    cancelled = await load(web, assessment_id)
    assert cancelled.cancelled_reason == "Cancelled by the ATS"
    assert await deliveries(web.app, assessment_id) == []
    async with web.app.state.host.session() as session:
        statuses = list(await session.scalars(select(Email.status).where(Email.assessment_id == assessment_id)))
    assert statuses == ["cancelled"]


async def test_viewer_cannot_act(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    async with web.app.state.host.session() as session:
        workspace = await session.get(Workspace, web.seeded.workspace_id)
        await create_admin(session, workspace, "viewer@demo.example", ADMIN_PASSWORD, role="viewer")
        await session.commit()
    await sign_in(web.client, "viewer@demo.example")
    page = await web.client.get(f"/reports/{assessment_id}")
    csrf = csrf_in(page.text)

    responses = [
        await web.client.post(f"/reports/{assessment_id}/{action}", data={"csrf_token": csrf, **fields})
        for action, fields in (("resend", {}), ("extend", {"days": "3"}), ("cancel", {"reason": "No"}))
    ]

    assert 'data-testid="invitation"' in page.text
    assert 'data-testid="cancel-form"' not in page.text
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert (await load(web, assessment_id)).status == "invited"
    assert await audit_actions(web.app, assessment_id) == []


async def test_actions_need_csrf_and_workspace(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    csrf = await signed_in_admin(web, assessment_id)

    forged = await web.client.post(f"/reports/{assessment_id}/cancel", data={"csrf_token": "wrong", "reason": "x"})
    unknown = await web.client.post("/reports/not-an-assessment/cancel", data={"csrf_token": csrf, "reason": "x"})
    async with client_for(web.app) as stranger:
        signed_out = await stranger.post(f"/reports/{assessment_id}/resend", data={"csrf_token": csrf})

    assert forged.status_code == 400
    assert unknown.status_code == 404
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/login?next=%2Freports%2F{assessment_id}"
    assert (await load(web, assessment_id)).status == "invited"


# ---- the assessment.update bodies -------------------------------------------------------------


def test_update_bodies_per_event() -> None:
    assessment = Assessment(
        id="9d4e1c2a-7b3f-4e8d-a1c5-6f2b0e9d8c71",
        expires_at=dt.datetime(2026, 12, 11, 14, 0, tzinfo=dt.timezone.utc),
        invitation_error="Mailbox full",
        score=80.0, max_score=100.0, category_scores=[], pass_mark=70.0, passed=True,
        cancelled_reason="Cancelled in Langos by a@b.example: Filled",
    )

    def body(event: str) -> dict[str, Any]:
        delivery = Delivery(event=event, occurred_at=utcnow())
        return update_body(build_update(BASE_URL, delivery, assessment, None))

    invited = body("invited")
    failed = body("invitation_failed")
    completed = body("completed")
    cancelled = body("cancelled")

    assert invited["assessment_status"]["value"] == "Invited"
    assert {"identifier": "expires_at", "label": "Invitation expires", "type": "string",
            "value": "2026-12-11 14:00 UTC"} in invited["metadata"]
    assert failed["assessment_status"]["value"] == "Invitation not delivered"
    assert failed["metadata"][0]["value"] == "Mailbox full"
    metadata = {point["identifier"]: point for point in completed["metadata"]}
    assert metadata["passed"] == {"identifier": "passed", "label": "Passed", "type": "boolean_success", "value": True}
    assert metadata["pass_mark"]["value"] == 70.0
    assert cancelled["cancelled_reason"]["value"] == "Cancelled in Langos by a@b.example: Filled"
    assert "assessment_status" not in cancelled


# ---- end to end with the fake Ashby -----------------------------------------------------------


async def fake_updates(stack: Stack, assessment_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(stack.ashby_url + "/_fake/updates", params={"assessment_id": assessment_id})
    return [record["body"] for record in response.json()["updates"] if record["accepted"]]


async def fake_body(stack: Stack, assessment_id: str, accept: Any) -> dict[str, Any]:
    """Wait until the fake Ashby accepted an update of the assessment that ``accept`` approves; return its body."""

    async def find() -> dict[str, Any] | None:
        return next((body for body in reversed(await fake_updates(stack, assessment_id)) if accept(body)), None)

    return await wait_for(find)


def status_is(value: str) -> Any:
    return lambda body: body.get("assessment_status", {}).get("value") == value


async def fake_start(stack: Stack, candidate: int, type_id: str) -> str:
    started = (await stack.http.post(
        stack.ashby_url + "/_fake/langos/start", json={"candidate": candidate, "assessment_type_id": type_id}
    )).json()
    assert started["status"] == 200, started
    return started["body"]["results"]["assessment_id"]


async def test_ashby_receives_each_event(stack: Stack) -> None:
    await stack.connect_and_configure()
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    expiring = await fake_start(stack, 0, type_id)
    cancelled = await fake_start(stack, 1, type_id)
    completed = await fake_start(stack, 2, type_id)
    app = stack.langos
    await set_columns(app, expiring, expires_at=utcnow() - dt.timedelta(minutes=5))
    await set_columns(app, completed, pass_mark=0.0)

    await expire_now(app)
    expired_body = await fake_body(stack, expiring, status_is("Expired"))
    reordered = await fake_start(stack, 0, type_id)
    page = (await stack.http.get(stack.ashby_url + "/")).text
    csrf = csrf_in((await stack.admin.client.get(f"/reports/{cancelled}")).text)
    await stack.admin.client.post(f"/reports/{cancelled}/cancel", data={"csrf_token": csrf, "reason": "Filled"})
    token = await newest_token(app, completed)
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as candidate:
        welcome = await candidate.get(f"/take/{token}")
        candidate_csrf = csrf_in(welcome.text)
        await candidate.post(f"/take/{token}/start", data={"csrf_token": candidate_csrf})
        await candidate.post(f"/take/{token}/submit", data={"csrf_token": candidate_csrf})

    cancel_body = await fake_body(stack, cancelled, lambda body: "cancelled_reason" in body)
    completed_body = await fake_body(stack, completed, lambda body: "assessment_result" in body)

    assert expired_body["assessment_status"]["value"] == "Expired"
    assert expired_body["cancelled_reason"]["value"].startswith("The invitation expired on ")
    assert reordered != expiring
    assert '<span class="badge error">Expired</span>' in page
    assert cancel_body["cancelled_reason"]["value"] == "Cancelled in Langos by admin@demo.example: Filled"
    metadata = {point["identifier"]: point["value"] for point in completed_body["metadata"]}
    assert metadata["passed"] is True
    assert metadata["pass_mark"] == 0.0


async def test_ashby_receives_reopened_invitation(stack: Stack) -> None:
    await stack.connect_and_configure()
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    assessment_id = await fake_start(stack, 0, type_id)
    await set_columns(stack.langos, assessment_id, expires_at=utcnow() - dt.timedelta(minutes=5))
    await expire_now(stack.langos)
    await fake_body(stack, assessment_id, status_is("Expired"))
    csrf = csrf_in((await stack.admin.client.get(f"/reports/{assessment_id}")).text)

    await stack.admin.client.post(f"/reports/{assessment_id}/extend", data={"csrf_token": csrf, "days": "5"})

    expires_at = (await load_assessment(stack, assessment_id)).expires_at
    expected = {"identifier": "expires_at", "label": "Invitation expires", "type": "string",
                "value": f"{expires_at:%Y-%m-%d %H:%M} UTC"}
    body = await fake_body(stack, assessment_id, lambda body: expected in body.get("metadata", []))
    assert body["assessment_status"]["value"] == "Invited"
    assert "cancelled_reason" not in body
    views = (await stack.http.get(stack.ashby_url + "/_fake/assessments")).json()["assessments"]
    assert views[assessment_id]["cancelled_reason"] is None
    assert views[assessment_id]["status"]["value"] == "Invited"


async def load_assessment(stack: Stack, assessment_id: str) -> Assessment:
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return assessment


# ---- the CLI ----------------------------------------------------------------------------------


async def test_cli_resend_extend_cancel(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    async with running(app):
        seeded = await seed_workspace(app)
        first, first_token = await order_assessment(app, seeded, "application-1")
        second, _ = await order_assessment(app, seeded, "application-2")
    cli = Cli({
        "LANGOS_DATA_DIR": str(tmp_path / "data"),
        "LANGOS_PLUGINS_FILE": str(tmp_path / "plugins.toml"),
        "LANGOS_PUBLIC_URL": BASE_URL,
    })

    resent = await cli("resend", first, "--workspace", "demo")
    extended = await cli("extend", first, "--days", "5")
    invalid = await cli("extend", first, "--days", "0")
    cancelled = await cli("cancel", second, "--reason", "Position filled", "--workspace", "demo")

    assert resent[0] == 0, resent[2]
    assert "the link in earlier emails no longer works" in resent[1]
    assert first_token not in resent[1]
    assert extended[0] == 0, extended[2]
    assert "now expires at" in extended[1]
    assert invalid[0] == 2
    assert "Days to add must be from 1 to 90" in invalid[2]
    assert cancelled[0] == 0, cancelled[2]
    reader = build_app(tmp_path)
    async with running(reader):
        async with reader.state.host.session() as session:
            reason = await session.scalar(select(Assessment.cancelled_reason).where(Assessment.id == second))
            kinds = list(await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.assessment_id == first).order_by(TimelineEvent.id)
            ))
    assert reason == "Cancelled in Langos by cli: Position filled"
    assert kinds == ["invited", "invitation_resent", "extended"]
