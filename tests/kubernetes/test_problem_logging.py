"""Problems the provider retries through are logged once, reminded while they last, and cleared with INFO.

Against the test API server: a stream refused with 403, status writes refused for every Ingress, a
forbidden Lease. The log records are read from caplog (the streams log from their own threads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time

import pytest

from ingressctl.providers.kubernetes import KubernetesProvider, LeaderElector
from ingressctl.providers.kubernetes.address import PublishAddress
from ingressctl.providers.kubernetes.backoff import Backoff
from ingressctl.providers.kubernetes.problems import ProblemLog, describe_duration
from tests.kubeapi import KubeAPIServer, Rule, rule
from tests.kubeapi.fixtures import ingress
from tests.kubernetes.conftest import FAST, kube_config, running
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(60)

LOGGER = "ingressctl.providers.kubernetes"
USER = "system:serviceaccount:ingressctl:ingressctl"
# Retries as fast as the test server answers; a reminder only after a minute (so none in these tests).
QUICK = dataclasses.replace(
    FAST, backoff=Backoff(initial=0.01, maximum=0.02, jitter=0.1), problem_reminder=60
)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


def lines(caplog: pytest.LogCaptureFixture, level: int, pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == level and regex.search(r.getMessage())
    ]


def requests(server: KubeAPIServer, resource: str, status: int) -> int:
    return sum(1 for r in server.request_log() if r.resource == resource and r.status == status)


def grants(*resources: tuple[str, str], verbs: tuple[str, ...] = ("list", "watch")) -> list[Rule]:
    return [rule(USER, list(verbs), [res], groups=[group]) for group, res in resources]


READ_ALL = grants(
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("", "services"),
    ("discovery.k8s.io", "endpointslices"),
)
SECRETS = grants(("", "secrets"))


# ---------------------------------------------------------------- the rules, with a clock we control


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_once_then_debug_then_a_reminder_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="test.problems")
    clock = FakeClock()
    problems = ProblemLog(logging.getLogger("test.problems"), reminder=300, clock=clock)
    for _ in range(50):  # 50 retries within a minute
        problems.failed("secrets", "not allowed to list secrets", level=logging.ERROR, detail="retrying")
        clock.now += 1
    clock.now += 260  # 310 s since the first line
    problems.failed("secrets", "not allowed to list secrets", level=logging.ERROR, detail="retrying")
    clock.now += 22
    assert problems.recovered("secrets", "watch of secrets") == pytest.approx(332)
    assert problems.recovered("secrets", "watch of secrets") is None  # once

    by_level = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert by_level[0] == (logging.ERROR, "kubernetes: not allowed to list secrets; retrying")
    assert [lvl for lvl, _ in by_level[1:50]] == [logging.DEBUG] * 49
    assert by_level[50] == (
        logging.ERROR,
        "kubernetes: not allowed to list secrets; retrying (still failing after 5 min 10 s; "
        "50 times since the last message)",
    )
    assert by_level[51] == (logging.INFO, "kubernetes: watch of secrets restored after 5 min 32 s")
    assert len(by_level) == 52


def test_a_different_problem_is_logged_at_once_and_keys_are_separate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.problems")
    clock = FakeClock()
    problems = ProblemLog(logging.getLogger("test.problems"), clock=clock)
    problems.failed("a", "403 on a")
    problems.failed("b", "403 on b")  # another stream: its own first line
    clock.now += 5
    problems.failed("a", "connection refused")  # same stream, new problem: logged now
    problems.failed("a", "writing 3 Ingresses", signature="api 403")
    problems.failed("a", "writing 4 Ingresses", signature="api 403")  # same signature: DEBUG
    clock.now += 37
    problems.recovered("a", "watch of a")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "kubernetes: 403 on a",
        "kubernetes: 403 on b",
        "kubernetes: connection refused",
        "kubernetes: writing 3 Ingresses",
    ]
    # The outage of "a" is counted from its first problem, not from the last change.
    assert caplog.records[-1].getMessage() == "kubernetes: watch of a restored after 42 s"
    assert problems.failing("b") and not problems.failing("a")


def test_a_problem_shared_by_streams_is_one_line_and_ends_with_its_last_member(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.problems")
    clock = FakeClock()
    problems = ProblemLog(logging.getLogger("test.problems"), clock=clock)
    for stream in ("ingresses", "services", "secrets"):
        problems.failed("api", f"the watch of {stream} was cut off", signature="transport", member=stream)
    clock.now += 3
    assert problems.recovered("ingresses", "watch of ingresses") is None  # others still fail
    assert problems.recovered("services", "watch of services") is None
    assert problems.recovered("secrets", "watch of secrets") == pytest.approx(3)
    assert problems.recovered("secrets", "watch of secrets") is None
    shown = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]
    assert shown == [
        (logging.WARNING, "kubernetes: the watch of ingresses was cut off"),
        (logging.INFO, "kubernetes: watch of ingresses restored after 3 s"),
    ]


def test_failing_differently_ends_the_previous_problem(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.problems")
    clock = FakeClock()
    problems = ProblemLog(logging.getLogger("test.problems"), clock=clock)
    problems.failed("api", "cannot reach the API server", member="secrets", what="API server")
    clock.now += 2
    problems.failed("resource secrets", "not allowed to watch secrets", level=logging.ERROR, member="secrets")
    assert [r.getMessage() for r in caplog.records] == [
        "kubernetes: cannot reach the API server",
        "kubernetes: API server restored after 2 s",
        "kubernetes: not allowed to watch secrets",
    ]


def test_a_member_rejoining_within_the_settle_time_continues_the_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.problems")
    problems = ProblemLog(logging.getLogger("test.problems"), settle=0.3)
    problems.failed("api", "stalled", member="a", what="watches")
    problems.recovered("a", "watch of a")  # the first stream restarted before the second noticed
    problems.failed("api", "stalled", member="b", what="watches")  # same problem: no new line
    problems.recovered("b", "watch of b")
    deadline = time.monotonic() + 10
    while not any("restored" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.4)
    assert [r.getMessage().split(" after")[0] for r in caplog.records] == [
        "kubernetes: stalled",
        "kubernetes: watches restored",
    ]


def test_durations_read_like_a_person_wrote_them() -> None:
    assert describe_duration(0.25) == "0.2 s"
    assert describe_duration(42) == "42 s"
    assert describe_duration(60) == "1 min"
    assert describe_duration(185) == "3 min 5 s"
    assert describe_duration(7440) == "2 h 4 min"


# ---------------------------------------------------------------- the provider against the test API server


async def test_forbidden_stream_logs_once_and_its_recovery(
    kube_api: KubeAPIServer, logs: pytest.LogCaptureFixture
) -> None:
    kube_api.add_token("sa", USER)
    kube_api.set_rules(READ_ALL)  # everything but Secrets
    kube_api.apply(ingress("web", host="a.example"))
    provider = KubernetesProvider(kube_config(kube_api, "sa"), timing=QUICK)
    async with running(provider) as rec:
        await rec.wait_status(lambda s: "403 Forbidden" in s.message)
        # Retried again and again ...
        await eventually(lambda: requests(kube_api, "secrets", 403) >= 10, timeout=30)
        refused = lines(logs, logging.ERROR, "not allowed to list secrets")
        assert len(refused) == 1  # ... but said once, at ERROR, with the fix
        assert "grant it to the controller's service account" in refused[0]
        assert "retrying in" in refused[0]
        assert len(lines(logs, logging.DEBUG, "not allowed to list secrets")) >= 5  # the rest at DEBUG
        assert lines(logs, logging.WARNING, "secrets") == []

        kube_api.set_rules([*READ_ALL, *SECRETS])
        await rec.wait(lambda s: bool(s.ingresses))
        await eventually(lambda: bool(lines(logs, logging.INFO, "restored")), timeout=30)
    (restored,) = lines(logs, logging.INFO, "restored")
    assert re.fullmatch(
        r"kubernetes: watch of secrets at the cluster scope restored after [\d.]+ s", restored
    )
    # The streams that never failed say nothing about being restored.
    assert len(lines(logs, logging.ERROR, "")) == 1


async def test_status_writes_refused_for_every_ingress_are_one_problem(
    kube_api: KubeAPIServer, logs: pytest.LogCaptureFixture
) -> None:
    kube_api.add_token("sa", USER)
    kube_api.set_rules([*READ_ALL, *SECRETS])  # may read, may not update ingresses/status
    kube_api.apply_many([ingress(f"web{n}", host=f"w{n}.example") for n in range(5)])
    provider = KubernetesProvider(kube_config(kube_api, "sa"), timing=QUICK)
    address = PublishAddress(("192.0.2.10",))
    async with running(provider) as rec:
        snap = await rec.wait(lambda s: len(s.ingresses) == 5)
        for _ in range(3):  # three status passes (after each applied table, in serve)
            assert await provider.publish_status(snap.ingresses, address) == 0
        assert requests(kube_api, "ingresses/status", 403) == 15
        refused = lines(logs, logging.ERROR, "cannot write the status")
        assert len(refused) == 1
        assert refused[0].startswith(
            "kubernetes: cannot write the status of 5 Ingresses "
            "(default/web0, default/web1, default/web2, ...): "
            'not allowed to update ingresses/status "default/web0" (403 Forbidden'
        )
        assert len(lines(logs, logging.DEBUG, "cannot write the status")) == 2

        kube_api.set_rules(
            [*READ_ALL, *SECRETS, *grants(("networking.k8s.io", "ingresses/status"), verbs=("update",))]
        )
        assert await provider.publish_status(snap.ingresses, address) == 5
    assert (
        len(lines(logs, logging.INFO, r"^kubernetes: writing Ingress status restored after [\d.]+ s$")) == 1
    )
    assert len(lines(logs, logging.INFO, r"status set to")) == 5


async def test_forbidden_lease_logs_once_then_leads_when_granted(
    kube_api: KubeAPIServer, logs: pytest.LogCaptureFixture
) -> None:
    kube_api.add_token("sa", USER)
    kube_api.set_rules(READ_ALL)
    elector = LeaderElector(
        KubernetesProvider(kube_config(kube_api, "sa")).connection,
        namespace="ingressctl",
        identity="replica-a",
        lease_duration=2,
        renew_deadline=1.0,
        retry_period=0.02,
        timing=QUICK,
    )
    task = asyncio.create_task(elector.run())
    try:
        await eventually(lambda: requests(kube_api, "leases", 403) >= 10, timeout=30)
        refused = lines(logs, logging.ERROR, "leader election")
        assert len(refused) == 1
        assert refused[0].startswith(
            "kubernetes: leader election (Lease ingressctl/ingressctl-leader): not allowed to get "
        )
        assert lines(logs, logging.WARNING, "leader election") == []
        kube_api.set_rules(
            [*READ_ALL, *grants(("coordination.k8s.io", "leases"), verbs=("get", "create", "update"))]
        )
        await eventually(lambda: elector.is_leader, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    restored = lines(logs, logging.INFO, "leader Lease .* restored after")
    assert restored and restored[0].startswith(
        "kubernetes: access to the leader Lease ingressctl/ingressctl-leader restored after"
    )
