"""The Idempotency-Key probe: the cheapest create sent twice with one key, within the budget.

Against the mock on loopback behind ``LimitedMock``, whose POST log records the key of every
create: replay on (the mock's default) is "honoured", replay off (``idempotency_replay=False``
strips the key before the mock sees it) is "not honoured" with two jobs; a budget without two
paid jobs left sends nothing; the guard lets no unarmed POST through. ``phases=()`` leaves only
the run's own requests and the probe's, so every run here takes a fraction of a second.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests
from deerapi_videos_conformance import (
    Budget,
    BudgetExceeded,
    CheckResult,
    ConformanceResult,
    IdempotencyProbe,
    PaidRequestGuard,
    ProbeAnswer,
    Progress,
    run_conformance,
)
from deerapi_videos_conformance._idempotency import PROBE_KEY_PREFIX
from deerapi_videos_conformance._report import ReportContext, render_junit, render_markdown
from deerapi_videos_mock import Fault, LimitedMock, Limits, MockDeerAPI, PostRecord

from .conftest import API_KEY, PROFILE, new_mock

OnEvent = Callable[[Progress], None]


def _no_sleep(_: float) -> None:
    """The mock finishes jobs as they are polled; nothing to wait for."""


def _run(
    *,
    replay: bool = True,
    live: bool = False,
    budget: Budget | None = None,
    probe: bool = True,
    mock: MockDeerAPI | None = None,
    on_event: OnEvent | None = None,
) -> tuple[ConformanceResult, LimitedMock]:
    limited = LimitedMock(mock or new_mock(), Limits(idempotency_replay=replay))
    with limited.serve() as base_url:
        result = run_conformance(
            base_url,
            API_KEY,
            phases=(),
            live=live,
            budget=budget,
            seed=PROFILE.seed,
            sleep=_no_sleep,
            on_event=on_event,
            idempotency_probe=probe,
        )
    return result, limited


def _probe(result: ConformanceResult) -> IdempotencyProbe:
    assert result.idempotency is not None, "every engine run reports the probe"
    return result.idempotency


def _probe_posts(limited: LimitedMock) -> list[PostRecord]:
    """The POSTs that carried a probe key (the log keeps the key even with replay off)."""
    return [p for p in limited.posts if (p.key or "").startswith(PROBE_KEY_PREFIX)]


def _said(probe: IdempotencyProbe, text: str) -> bool:
    """Whether both the one-line summary and the JSON form say ``text``."""
    return text in probe.summary() and text in json.dumps(probe.to_dict())


def _creates(limited: LimitedMock) -> list[int]:
    """Statuses of the creates in the mock's own request log that carried the key, in order.

    401s are left out: the ignored_auth check re-sends the run's own create without valid
    credentials (free: nobody can be billed), and the mock refuses it.
    """
    return [r.status for r in limited.mock.requests_for("createVideo") if r.status != 401]


# -- against the mock ------------------------------------------------------------------------------


def test_a_server_that_replays_the_key_returns_one_job() -> None:
    result, limited = _run(replay=True)
    probe = _probe(result)
    assert probe.outcome == "honoured" and not probe.finding
    first, second = probe.answers
    assert (first.status, second.status) == (200, 200)
    assert first.video_id is not None and first.video_id == second.video_id
    assert probe.jobs == (first.video_id,)
    assert _creates(limited) == [200, 200]  # the probe's two POSTs and nothing else
    assert probe.key is not None and limited.post_counts()[probe.key] == (2, 1)
    assert [p.replayed for p in _probe_posts(limited)] == [False, True]
    assert len(limited.mock.paid_jobs) == 1
    assert probe.cleanup == ((first.video_id, "deleted"),)
    assert limited.mock.get(first.video_id) is None
    assert [j.video_id for j in result.paid_jobs] == [first.video_id]
    assert result.passed, [f.message for f in result.failures]


def test_both_probe_posts_carry_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same key, same body to the byte: a server comparing raw bodies must not see two."""
    sent: list[tuple[str | None, str | None, object]] = []
    admit = PaidRequestGuard.admit

    def spy(self: PaidRequestGuard, request: requests.PreparedRequest) -> None:
        if request.method == "POST":
            key = request.headers.get("Idempotency-Key")
            sent.append((key, request.headers.get("Content-Type"), request.body))
        admit(self, request)

    monkeypatch.setattr(PaidRequestGuard, "admit", spy)
    result, _ = _run(replay=False)
    assert _probe(result).outcome == "not_honoured"
    first, second = sent
    assert first == second and first[0] == _probe(result).key
    assert isinstance(first[2], bytes) and b"A lighthouse" in first[2]


def test_a_server_that_ignores_the_key_starts_two_jobs() -> None:
    result, limited = _run(replay=False)
    probe = _probe(result)
    assert probe.outcome == "not_honoured" and probe.finding
    first, second = (a.video_id for a in probe.answers)
    assert first is not None and second is not None and first != second
    assert probe.jobs == (first, second)
    assert _creates(limited) == [200, 200]  # exactly two POSTs reached the mock
    posts = _probe_posts(limited)
    assert [(p.key, p.video_id) for p in posts] == [(probe.key, first), (probe.key, second)]
    assert len(limited.mock.paid_jobs) == 2
    assert dict(probe.cleanup) == {first: "deleted", second: "deleted"}
    assert limited.mock.videos == []
    assert {j.video_id for j in result.paid_jobs} == {first, second}
    # A finding, informational like the drift: the verdict stays with the checks.
    assert result.passed, [f.message for f in result.failures]
    summary = probe.summary()
    assert summary.startswith("not honoured: ") and first in summary and second in summary
    assert "two jobs" in summary and "--trust-idempotency-keys is unsafe" in summary


@pytest.mark.parametrize(
    ("budget", "left"),
    [
        (Budget(max_paid_jobs=1), 0),
        (Budget(max_paid_jobs=2, allow_remix=False), 1),
        (Budget(max_paid_jobs=3), 1),  # the run's create and remix come first
    ],
)
def test_a_budget_without_two_paid_jobs_left_sends_no_probe(budget: Budget, left: int) -> None:
    result, limited = _run(live=True, budget=budget)
    probe = _probe(result)
    assert probe.outcome == "not_checked"
    assert probe.reason == f"needs 2 paid jobs, budget left {left}"
    assert probe.budget_left == left
    assert probe.key is None and probe.answers == () and probe.jobs == ()
    assert _probe_posts(limited) == []
    assert _creates(limited) == [200]  # the run's own create only
    assert len(limited.mock.paid_jobs) == budget.max_paid_jobs - left
    assert result.paid_requests_refused == 0
    assert _said(probe, f"not checked: needs 2 paid jobs, budget left {left}")


@pytest.mark.parametrize(
    ("budget", "paid"),
    [
        (Budget(max_paid_jobs=3, allow_remix=False), ["createVideo", "createVideo"]),
        (Budget(max_paid_jobs=4), ["createVideo", "remixVideo", "createVideo"]),
    ],
)
def test_a_live_run_probes_with_what_its_own_jobs_left(budget: Budget, paid: list[str]) -> None:
    result, limited = _run(live=True, budget=budget)
    probe = _probe(result)
    assert probe.outcome == "honoured" and probe.budget_left == 2
    assert _creates(limited) == [200, 200, 200]  # the run's create, then the probe's two
    assert len(_probe_posts(limited)) == 2
    assert [v.operation for v in limited.mock.paid_jobs] == paid
    assert result.paid_requests_refused == 0
    assert len(result.paid_jobs) <= budget.max_paid_jobs
    assert result.passed, [f.message for f in result.failures]


def test_a_run_told_to_skip_the_probe_sends_nothing() -> None:
    result, limited = _run(probe=False)
    probe = _probe(result)
    assert (probe.outcome, probe.key, probe.answers) == ("not_checked", None, ())
    assert "skipped" in probe.reason
    assert _creates(limited) == []


def test_a_failed_first_post_is_not_checked_and_nothing_is_resent() -> None:
    mock = new_mock()
    mock.inject(Fault.status(500, operations="createVideo"))
    result, limited = _run(mock=mock)
    probe = _probe(result)
    assert probe.outcome == "not_checked"
    assert probe.reason == "the first POST answered 500 (server_error)"
    assert [a.status for a in probe.answers] == [500] and probe.jobs == ()
    assert _creates(limited) == [500]
    assert not result.passed  # the 500 itself is a check failure, as on any explicit call


def test_a_refused_second_post_is_reported_with_its_status_and_code() -> None:
    mock = new_mock()

    def refuse_the_next_create(event: Progress) -> None:
        if event.kind == "paid_job":  # the first POST's job was recorded
            mock.inject(Fault.status(409, operations="createVideo"))

    result, limited = _run(mock=mock, on_event=refuse_the_next_create)
    probe = _probe(result)
    assert probe.outcome == "refused"
    assert [a.status for a in probe.answers] == [200, 409]
    assert probe.answers[1].error_code == "server_error"  # the fault's envelope code
    assert "answered 409 (error code server_error)" in probe.reason
    (job,) = probe.jobs
    assert probe.cleanup == ((job, "deleted"),)
    assert _creates(limited) == [200, 409]


def test_probe_jobs_are_left_and_named_when_delete_is_not_served() -> None:
    result, limited = _run(replay=False, mock=new_mock(unserved={"deleteVideo"}))
    probe = _probe(result)
    assert probe.outcome == "not_honoured"
    assert [fate for _, fate in probe.cleanup] == ["not deleted: delete is not served"] * 2
    assert {v.id for v in limited.mock.videos} == set(probe.jobs)


# -- the guard: only the two armed POSTs go out ---------------------------------------------------


def test_an_off_spec_answer_to_a_probe_post_fails_its_checks_with_a_redacted_repro() -> None:
    # phases=(): the probe's own POSTs are the only creates of the run.
    result, _ = _run(mock=new_mock(defects={"wrong_field_type"}))
    failed = [c for c in result.checks if not c.passed and "POST /v1/videos" in c.operation]
    assert failed, [c for c in result.checks if not c.passed]
    assert not result.passed
    for check in failed:
        assert "created_at" in check.message
        assert check.curl is not None and "$DEERAPI_KEY" in check.curl
        assert check.repro and API_KEY not in check.curl + check.message


def test_the_guard_sends_each_armed_post_once_and_refuses_an_unarmed_third() -> None:
    limited = LimitedMock(new_mock(), Limits(idempotency_replay=False))
    guard = PaidRequestGuard(api_key=API_KEY, budget=Budget(max_paid_jobs=3))
    key = f"{PROBE_KEY_PREFIX}guard"
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}
    form = {"prompt": (None, "a lighthouse"), "seconds": (None, "4")}
    with limited.serve() as base_url, requests.Session() as session:
        guard.mount(session)

        def post() -> int:
            return session.post(f"{base_url}/v1/videos", files=form, headers=headers).status_code

        with guard.arm("create"):
            assert post() == 200
        with guard.arm("create"):
            assert post() == 200
            with pytest.raises(BudgetExceeded):
                post()  # one request per arming: a resend inside it is refused
        with pytest.raises(BudgetExceeded):
            post()  # unarmed, although the budget has a job left
    assert guard.remaining == 1 and len(guard.blocked) == 2
    assert [p.key for p in limited.posts] == [key, key]
    assert len(limited.mock.paid_jobs) == 2


# -- the reports ---------------------------------------------------------------------------------

KEY = f"{PROBE_KEY_PREFIX}0123"
PROBES = {
    "honoured": IdempotencyProbe(
        "honoured",
        key=KEY,
        answers=(ProbeAnswer(200, "video_a", None, "req_1"), ProbeAnswer(200, "video_a")),
        cleanup=(("video_a", "deleted"),),
    ),
    "not_honoured": IdempotencyProbe(
        "not_honoured",
        key=KEY,
        answers=(ProbeAnswer(200, "video_a", None, "req_1"), ProbeAnswer(200, "video_b")),
        cleanup=(("video_a", "deleted"), ("video_b", "not deleted: DELETE answered 409")),
    ),
    "refused": IdempotencyProbe(
        "refused",
        "the second POST (same key, same body) answered 409 (error code idempotency_key_reused)",
        KEY,
        (ProbeAnswer(200, "video_a"), ProbeAnswer(409, None, "idempotency_key_reused", "req_2")),
        (("video_a", "deleted"),),
    ),
    "not_checked": IdempotencyProbe(
        "not_checked", "needs 2 paid jobs, budget left 1", budget_left=1
    ),
}


def _result(probe: IdempotencyProbe) -> ConformanceResult:
    return ConformanceResult(
        checks=[CheckResult("POST /v1/videos", "live_step", True, "")],
        idempotency=probe,
        duration_s=1.0,
    )


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("honoured", ["**Honoured**: ", "returned the same job (video_a)", "`video_a` (deleted)"]),
        (
            "not_honoured",
            [
                "**Not honoured**: ",
                "started two jobs (video_a, video_b)",
                "--trust-idempotency-keys is unsafe against this server",
                "`video_a` (deleted), `video_b` (not deleted: DELETE answered 409)",
                "- Idempotency-Key: not honoured (a finding: see below)",
            ],
        ),
        (
            "refused",
            [
                "**Refused**: the second POST (same key, same body) answered 409",
                "- POST 2: 409, error code `idempotency_key_reused`, request id `req_2`",
                "jobs the probe started: video_a",
            ],
        ),
        ("not_checked", ["**Not checked**: needs 2 paid jobs, budget left 1."]),
    ],
)
def test_markdown_states_the_outcome_and_the_jobs(outcome: str, expected: list[str]) -> None:
    md = render_markdown(_result(PROBES[outcome]), None, ReportContext(live=True))
    section = md.split("\n## Idempotency-Key\n\n", 1)[1].split("\n## ", 1)[0]
    header = md.split("\n## ", 1)[0]
    for text in expected:
        assert text in section or text in header, (text, section)
    if PROBES[outcome].key is not None:
        assert f"- Key: `{KEY}`" in section
    assert "**Result: CONFORMANT**" in md  # informational: the verdict is the checks'
    assert "\n### `" not in section  # failure blocks are found by that heading


@pytest.mark.parametrize("outcome", sorted(PROBES))
def test_junit_and_json_carry_the_outcome(outcome: str) -> None:
    probe = PROBES[outcome]
    suite = ET.fromstring(render_junit(_result(probe))).find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["idempotency_key.outcome"] == outcome
    assert props["idempotency_key.jobs"] == " ".join(probe.jobs)
    out = suite.find("system-out")
    assert out is not None and probe.summary() in (out.text or "")
    data = json.loads(json.dumps(probe.to_dict()))
    assert data["outcome"] == outcome and data["finding"] == (outcome == "not_honoured")
    assert data["jobs"] == list(probe.jobs) and data["summary"] == probe.summary()
    assert data["paid_jobs_needed"] == 2
