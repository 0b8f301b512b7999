"""`ingressctl serve --kubernetes` through API faults, under steady load on a route no fault touches.

For each fault: every request to the unchanged route succeeds (the last good table keeps serving),
the problem is logged once and its end once (by the provider; the server repeats neither), LISTs
stay bounded (counted at the API server), and the final table is exactly the cluster's.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import ingress, service
from tests.kubernetes.serving import NS, STEADY, Cluster, app, route, serving

pytestmark = pytest.mark.timeout(120)

STREAMS = 5  # ingressclasses, ingresses, services, endpointslices, secrets (cluster-wide)
USER = "system:serviceaccount:ingressctl:ingressctl"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


def kubeconfig(kube: KubeAPIServer) -> Path:
    return kube.write_kubeconfig(token="test-token", context="ctx")


def repeat_for(seconds: float, action: Callable[[], None], every: float = 0.05) -> threading.Thread:
    """`action` again and again for `seconds`, in a thread (the test's loop keeps serving the load)."""

    def run() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            action()
            time.sleep(every)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def moving(c: Cluster, host: str) -> None:
    c.kube.apply(ingress("moving", NS, host=host, service_name="moving"))


def with_moving(kube: KubeAPIServer) -> Callable[..., None]:
    return lambda backend: kube.apply_many(app("moving", backend.port, "before.test"))


async def test_api_server_restart_with_new_versions_and_deletions_while_disconnected(
    kube: KubeAPIServer, cli_env: dict[str, str]
) -> None:
    def setup(backend: object) -> None:
        port = backend.port  # type: ignore[attr-defined]
        kube.apply_many([*app("moving", port, "before.test"), *app("gone", port, "gone.test")])

    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=setup) as c:
        await c.wait_routes(
            {route("steady", STEADY), route("moving", "before.test"), route("gone", "gone.test")}
        )
        mark, lists = c.mark, kube.list_calls()

        def while_down() -> None:  # no watch can replay these: only a LIST shows them
            kube.store_delete("Ingress", NS, "gone")
            kube.store_apply(ingress("moving", NS, host="after.test", service_name="moving"))

        await asyncio.to_thread(kube.restart, 1.0, while_down=while_down)
        await c.wait_routes({route("steady", STEADY), route("moving", "after.test")})
        (restored,) = await c.wait_restored(mark, 1)
        c.assert_steady_served()

    (lost,) = c.problems(mark)  # one line for five streams losing the server
    assert kube.url in lost and ("cut off" in lost or "cannot reach" in lost)
    assert restored.startswith(f"kubernetes: watches of the API server at {kube.url} restored after")
    # Every version changed: each stream relisted after one 410, routine, so not a line of its own.
    assert c.provider_lines(mark, "INFO", r"410") == []
    assert kube.list_calls() - lists <= 2 * STREAMS  # each stream relists once (a retry at most)
    c.assert_no_server_summaries(mark)


async def test_410_storm_then_watches_closed_at_once(kube: KubeAPIServer, cli_env: dict[str, str]) -> None:
    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=with_moving(kube)) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})

        # History vanishes again and again (open watches get ERROR 410, relisted versions expire at once).
        mark, lists = c.mark, kube.list_calls()
        storm = repeat_for(2.5, kube.compact)
        moving(c, "storm.test")
        await asyncio.to_thread(storm.join)
        await c.wait_routes({route("steady", STEADY), route("moving", "storm.test")})
        (restored,) = await c.wait_restored(mark, 1)
        assert restored.startswith("kubernetes: watches after repeated 410 Gone restored after")
        (storm_line,) = c.problems(mark)
        assert "is too old (410 Gone) again right after listing; listing again" in storm_line
        relists = kube.list_calls() - lists
        assert STREAMS <= relists <= 8 * STREAMS, relists  # backed off: not one LIST per compaction

        # The server ends every watch as soon as it opens.
        mark, watches = c.mark, sum(1 for r in kube.request_log() if r.verb == "watch")
        closing = repeat_for(2.5, kube.close_watches)
        await asyncio.to_thread(closing.join)
        moving(c, "after.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "after.test")})
        restored = await c.wait_restored(mark, 1)
        (problem,) = c.problems(mark)
        assert "keeps ending the watch" in problem and "backing off" in problem
        assert restored[0].startswith(f"kubernetes: watches of the API server at {kube.url} restored after")
        rewatches = sum(1 for r in kube.request_log() if r.verb == "watch") - watches
        assert rewatches <= 8 * STREAMS, rewatches
        c.assert_steady_served()
    c.assert_no_server_summaries(mark)


async def test_stalled_streams_are_restarted_after_three_missed_bookmarks(
    kube: KubeAPIServer, cli_env: dict[str, str]
) -> None:
    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=with_moving(kube)) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})
        await asyncio.sleep(1.5)  # a few bookmarks: serve learns they come every 0.3 s
        mark, lists = c.mark, kube.list_calls()
        kube.stall_watches()  # half-open: the connections stay, nothing comes
        moving(c, "during-stall.test")
        started = time.monotonic()
        # Applied after about a second (3 × 0.3 s), not after the fixed 150 s.
        await c.wait_routes({route("steady", STEADY), route("moving", "during-stall.test")}, timeout=60)
        assert time.monotonic() - started < 60
        restored = await c.wait_restored(mark, 1)
        c.assert_steady_served()
    (stalled,) = c.problems(mark)
    assert re.search(
        r"stalled \(nothing for 1(\.\d+)?s; bookmarks came every 0\.[34]s\); restarting it", stalled
    )
    assert restored[0].startswith(f"kubernetes: watches of the API server at {kube.url} restored after")
    assert kube.list_calls() == lists  # a stalled watch is resumed from its version: no LIST
    c.assert_no_server_summaries(mark)


async def test_slow_lists_are_waited_for_not_retried(kube: KubeAPIServer, cli_env: dict[str, str]) -> None:
    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=with_moving(kube)) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})
        mark, lists = c.mark, kube.list_calls()
        kube.set_delay(2.0, path_contains="limit=")  # LISTs (paginated) answer 2 s late; watches do not
        kube.compact()  # every stream must list again
        moving(c, "slow.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "slow.test")})
        deadline = time.monotonic() + 30
        while kube.list_calls() - lists < STREAMS or kube.open_watches() < STREAMS:
            assert time.monotonic() < deadline, "the streams did not relist"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # an abandoned, retried LIST would show now
        kube.set_delay(0)
        c.assert_steady_served()
    assert c.problems(mark) == []  # late is not broken: nothing to warn about
    assert kube.list_calls() - lists == STREAMS  # one LIST each, waited for, never abandoned and retried
    c.assert_no_server_summaries(mark)


async def test_5xx_then_rotated_token_then_rbac_removed_for_secrets(
    kube: KubeAPIServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    kube.add_token("token-1", USER)
    sa_dir = tmp_path / "serviceaccount"
    env = {
        **cli_env,
        **kube.write_serviceaccount(sa_dir, token="token-1"),
        "INGRESSCTL_SERVICEACCOUNT_DIR": str(sa_dir),
        "KUBECONFIG": "",
    }
    async with serving(kube, env, setup=with_moving(kube)) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})
        lists = kube.list_calls()

        # 503, then 500, for a while: one problem, one recovery; watches resume where they were.
        mark = c.mark
        kube.set_errors(503)
        kube.close_watches()
        await asyncio.sleep(1.2)
        kube.set_errors(0)
        kube.set_errors(500)
        await asyncio.sleep(1.2)
        kube.set_errors(0)
        moving(c, "after-5xx.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "after-5xx.test")})
        (failing,) = c.problems(mark)
        assert "(503 ServiceUnavailable" in failing and kube.url in failing
        restored = await c.wait_restored(mark, 1)
        assert restored[0].startswith(f"kubernetes: watches of the API server at {kube.url} restored after")

        # The token is rotated: the old one is refused before serve reads the new file.
        mark = c.mark
        kube.add_token("token-2", USER)
        kube.revoke_token("token-1")
        kube.close_watches()
        await asyncio.sleep(1.2)
        (sa_dir / "token").write_text("token-2")
        moving(c, "after-401.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "after-401.test")})
        (refused,) = c.problems(mark)
        assert "rejected our credentials (401 Unauthorized)" in refused
        await c.wait_restored(mark, 1)

        # RBAC no longer grants Secrets: that stream alone fails, the others keep applying changes.
        mark = c.mark
        readable = [
            rule(USER, ["list", "watch"], ["ingresses", "ingressclasses"], groups=["networking.k8s.io"]),
            rule(USER, ["list", "watch"], ["services"], groups=[""]),
            rule(USER, ["list", "watch"], ["endpointslices"], groups=["discovery.k8s.io"]),
        ]
        kube.set_rules(readable)
        kube.close_watches("secrets")
        moving(c, "during-403.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "during-403.test")})
        await asyncio.sleep(1.2)  # retried a few times meanwhile
        kube.set_rules(None)
        (forbidden,) = c.problems(mark)
        assert forbidden.startswith(
            "kubernetes: not allowed to watch secrets at the cluster scope (403 Forbidden"
        )
        restored = await c.wait_restored(mark, 1)
        assert restored[0].startswith("kubernetes: watch of secrets at the cluster scope restored after")
        c.assert_steady_served()
    assert kube.list_calls() == lists  # no phase needed a LIST: every watch resumed from its version
    c.assert_no_server_summaries(mark)


async def test_a_burst_of_1000_updates(kube: KubeAPIServer, cli_env: dict[str, str]) -> None:
    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=with_moving(kube)) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})
        mark, lists = c.mark, kube.list_calls()
        burst = [ingress("moving", NS, host=f"h{i}.test", service_name="moving") for i in range(999)]
        burst.append(ingress("moving", NS, host="final.test", service_name="moving"))
        await asyncio.to_thread(kube.apply_many, burst)
        await c.wait_routes({route("steady", STEADY), route("moving", "final.test")})
        await asyncio.sleep(0.5)
        assert await c.routes() == {route("steady", STEADY), route("moving", "final.test")}
        c.assert_steady_served()
    applied = [line for line in c.sp.lines[mark:] if "configuration applied" in line]
    assert 1 <= len(applied) < 100  # coalesced, not one compile per update
    assert c.problems(mark) == []
    assert kube.list_calls() == lists


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_memory_stays_flat_across_many_relists(kube: KubeAPIServer, cli_env: dict[str, str]) -> None:
    def setup(backend: object) -> None:
        port = backend.port  # type: ignore[attr-defined]
        labels = {f"label-{n}": "x" * 40 for n in range(10)}
        objects = [service(f"svc-{i}", "bulk", labels=labels) for i in range(300)]
        kube.apply_many([*objects, *app("moving", port, "before.test")])

    async def relist_round() -> None:
        before = kube.list_calls()
        kube.compact()
        deadline = time.monotonic() + 30
        while kube.list_calls() - before < STREAMS or kube.open_watches() < STREAMS:
            assert time.monotonic() < deadline, "the streams did not relist"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.35)  # a bookmark: the watches are healthy again before the next round

    async with serving(kube, cli_env, kubeconfig=kubeconfig(kube), setup=setup) as c:
        await c.wait_routes({route("steady", STEADY), route("moving", "before.test")})
        for _ in range(5):  # warm up: caches, allocator arenas
            await relist_round()
        baseline = _rss_kib(c.sp.proc.pid)
        for _ in range(20):
            await relist_round()
        grown = _rss_kib(c.sp.proc.pid) - baseline
        moving(c, "after.test")
        await c.wait_routes({route("steady", STEADY), route("moving", "after.test")})
        c.assert_steady_served()
    # Keeping one more listing per relist (300 Services) would add tens of MiB over 100 relists.
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB over 100 relists"
    assert c.problems(0) == []  # routine relists: nothing to warn about
