"""`make run` as a new user meets it: the Makefile's own command, then every request the README's
"After `make run`" block shows, with real curl; then it is stopped and nothing is left running.

The commands come from README.md and the launcher's arguments from the Makefile, so neither can
drift from what is tested. Each run has a network namespace of its own (tests/demo/netns.py): the
examples' fixed ports are free there, and no request can leave the machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(120)

README = REPO / "README.md"
MAKEFILE = REPO / "Makefile"
NETNS = Path(__file__).with_name("netns.py")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CURL = shutil.which("curl")
NSENTER = shutil.which("nsenter")
UNSHARE = shutil.which("unshare")


def readme_commands() -> list[list[str]]:
    """The commands of the README's "After `make run`, in another terminal:" block."""
    text = README.read_text()
    _, found, after = text.partition("After `make run`, in another terminal:")
    assert found, "README.md lost its 'After `make run`, in another terminal:' block"
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def make_run_command() -> list[str]:
    """The `run` target's recipe, with $(PY) being this interpreter (the one with ingressctl)."""
    recipe = re.search(r"^run:.*\n\t(.+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe is not None, "Makefile has no run target"
    words = shlex.split(recipe.group(1))
    assert words[0] == "$(PY)", f"the run target no longer starts with $(PY): {recipe.group(1)}"
    return [sys.executable, *words[1:]]


def _namespaces_work() -> bool:
    if UNSHARE is None or NSENTER is None or os.geteuid() != 0:
        return False
    return subprocess.run([UNSHARE, "-n", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def isolated() -> None:
    reasons = []
    if CURL is None:
        reasons.append("curl is not installed (apt-get install curl)")
    if not _namespaces_work():
        reasons.append("cannot create a network namespace (needs root and util-linux unshare/nsenter)")
    if reasons:
        if os.environ.get("CI") == "true":
            pytest.fail("; ".join(reasons))
        pytest.skip("; ".join(reasons))


@dataclass
class Launched:
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def in_namespace(self, *command: str) -> list[str]:
        assert NSENTER is not None
        return [NSENTER, f"--net=/proc/{self.process.pid}/ns/net", *command]

    def wait_for_log(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.log):
                if m := re.search(pattern, line):
                    return m
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no log line matching {pattern!r}:\n" + "".join(self.log))

    def backends(self) -> set[str]:
        """The Services the launcher started a demo backend for ("demo: whoami on URL for NAMES")."""
        names: set[str] = set()
        for line in self.log:
            if m := re.match(r"demo: whoami on http://\S+/ for (.+)$", line.strip()):
                names.update(n.strip() for n in m.group(1).split(","))
        return names


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`: pid -> its start time (so a reused pid is not taken for it)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        started[int(entry.name)] = fields[19]
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = started[child]
            todo.append(child)
    return out


def still_running(processes: dict[int, str]) -> list[str]:
    alive = []
    for pid, start in processes.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[19] == start and fields[0] != "Z":  # a zombie has exited; its parent reaps it
            alive.append(f"{pid} {cmdline}")
    return alive


def wait_gone(processes: dict[int, str]) -> list[str]:
    deadline = time.monotonic() + STOP_TIMEOUT
    while (alive := still_running(processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.fixture
def launched(isolated: None) -> Iterator[Launched]:
    """The Makefile's `run` command in a network namespace of its own, up and serving."""
    assert UNSHARE is not None
    process = subprocess.Popen(
        [UNSHARE, "-n", "--", sys.executable, str(NETNS), *make_run_command()],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    run = Launched(process)

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            run.log.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        run.wait_for_log(r"ingressctl.server: configuration applied")
        yield run
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)


def curl(run: Launched, command: list[str], tmp_path: Path) -> tuple[int, str]:
    """One README command, run as written (in the namespace): its HTTP status and body."""
    assert CURL is not None
    if command[0] == "open":  # the browser: the same GET with curl
        command = ["curl", command[1]]
    assert command[0] == "curl", f"the test does not know how to run {shlex.join(command)!r} from README.md"
    body = tmp_path / "body"
    done = subprocess.run(
        run.in_namespace(CURL, *command[1:], "--silent", "--show-error", "--max-time", "30",
                         "--output", str(body), "--write-out", "%{http_code}"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"{shlex.join(command)}: {done.stderr}\n" + "".join(run.log)
    return int(done.stdout), body.read_text(errors="replace")


def whoami_names(body: str) -> list[str]:
    """The names a whoami answered under: its text ("Name: a,b") or JSON ({"name": "a,b"}) form."""
    if m := re.search(r"^Name: (.+)$", body, re.MULTILINE):
        return [n.strip() for n in m.group(1).split(",")]
    try:
        document = json.loads(body)
    except ValueError:
        return []
    name = document.get("name") if isinstance(document, dict) else None
    return [n.strip() for n in name.split(",")] if isinstance(name, str) and "hostname" in document else []


def test_every_readme_route_answers_from_the_demo_backends_and_ctrl_c_stops_everything(
    launched: Launched, tmp_path: Path
) -> None:
    commands = readme_commands()
    assert commands, "no commands in the README's 'After `make run`' block"
    started = launched.backends()
    assert started, "make run started no demo backend:\n" + "".join(launched.log)
    answered: set[str] = set()
    for command in commands:
        status, body = curl(launched, command, tmp_path)
        assert 200 <= status < 500, f"{shlex.join(command)} answered {status}: {body[:500]}"
        answered.update(whoami_names(body))
    # Every demo backend is shown in the README, and every README route reached what it meant to.
    assert answered == started, f"README reaches {sorted(answered)}, make run starts {sorted(started)}"

    children = descendants(launched.process.pid)
    assert len(children) >= 2, children  # the demo backends and serve
    os.killpg(launched.process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole job
    assert launched.process.wait(timeout=STOP_TIMEOUT) == 0, "".join(launched.log)
    assert wait_gone(children) == []
    assert "ingressctl.server: stopped" in "".join(launched.log)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_the_launcher_alone_leaves_no_process_behind(launched: Launched, stop: int) -> None:
    """SIGTERM to it alone (what `make` passes on when it is terminated, or `kill PID`), or
    SIGKILL (no chance to clean up: the children are told by the kernel, PR_SET_PDEATHSIG)."""
    children = descendants(launched.process.pid)
    assert len(children) >= 2, children
    launched.process.send_signal(stop)
    code = launched.process.wait(timeout=STOP_TIMEOUT)
    assert code == (0 if stop == signal.SIGTERM else -signal.SIGKILL), "".join(launched.log)
    assert wait_gone(children) == [], "".join(launched.log)
