"""Reading a large input in several processes: who reads what, the forked workers, a fast pickle.

On 30,000 objects loading is about three quarters of `validate`; the files are independent, so
each process reads the next file no process has taken yet (Claims) and the parent merges them in
file order (the result is the one sequential loading gives: `tests/manifests/test_parallel.py`).

Workers are forked (nothing to import again, the input text is already in memory) and answer
through a pipe: a reading worker with one pickle per file as it goes (StreamingWorker), which the
parent unpickles between its own files; a worker with one answer (Worker) with one pickle. Only
the one-shot CLI asks for this: forking a process that runs threads (`serve` loads in a thread)
could copy a lock held by another thread.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import functools
import gc
import io
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, NoReturn

from ingressctl import model
from ingressctl.model import builders

# Below this, forking and pickling cost about what they save: 500 kB is ~1,400 objects, about
# 0.15 s of reading; forking the CLI costs ~5 ms. The number of files does not matter.
MIN_BYTES = 500_000
MAX_PROCESSES = 8


def available_processes() -> int:
    """How many processes may read at once: the CPUs this process may run on, where fork exists."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    try:
        return max(1, min(len(os.sched_getaffinity(0)), MAX_PROCESSES))
    except OSError:
        return 1


def reading_processes(sizes: Sequence[int], processes: int, min_bytes: int = MIN_BYTES) -> int:
    """How many processes read inputs of these sizes: 1 (no workers) when the input is smaller
    than `min_bytes`, when there is one CPU or one file; never more than the files."""
    if processes < 2 or len(sizes) < 2 or sum(sizes) < min_bytes:
        return 1
    return min(processes, len(sizes))


class Claims:
    """Numbered pieces of work shared by forked processes: `take()` is the next number no process
    has taken yet, or None once all are taken.

    The numbers wait in a pipe, written in full before the fork; a read of one number is atomic,
    so each is taken exactly once, by whichever process asks first. The work then divides itself by
    what each piece really costs and by how much CPU each process gets (the machine may be shared),
    not by an estimate made beforehand: no process waits for another holding half of the work.
    """

    # Numbers a pipe always holds without waiting for a reader (two pages, the smallest pipe
    # Linux makes when a user has many).
    LIMIT = 2048

    def __init__(self, count: int) -> None:
        if not 0 <= count <= self.LIMIT:
            raise ValueError(f"{count} pieces of work; at most {self.LIMIT}")
        read_end, write_end = os.pipe()
        try:
            os.set_blocking(write_end, False)  # a pipe too small fails here instead of waiting
            data = b"".join(number.to_bytes(4, "little") for number in range(count))
            if data and os.write(write_end, data) != len(data):
                raise OSError("the pipe holds fewer numbers than written")
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # once the numbers are gone, a read gives end-of-file
        self._read_end = read_end

    def take(self) -> int | None:
        data = os.read(self._read_end, 4)
        return int.from_bytes(data, "little") if len(data) == 4 else None

    def close(self) -> None:
        os.close(self._read_end)


class Worker:
    """A forked process computing `task()`; `result()` is its value, or None when it failed."""

    def __init__(self, task: Callable[[], object]) -> None:
        read_end, write_end = os.pipe()
        pid = _fork(read_end, write_end)
        self.pid = pid
        self.read_end = read_end
        if pid is None:
            return
        if pid == 0:  # the child: compute, answer, and leave without running the parent's exit code
            # It lives for one task and leaves without freeing anything: cyclic collections would
            # only walk the heap it inherited (linting 30,000 objects took four times as long).
            gc.disable()
            code = 1
            try:
                os.close(read_end)
                data = dumps(task())
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(len(data).to_bytes(8, "little"))  # a whole answer says so itself
                    pipe.write(data)
                code = 0
            finally:
                _leave(code)
        os.close(write_end)

    def cancel(self) -> None:
        """Stop waiting for the answer: the worker's write fails, it exits, and it is reaped."""
        if self.pid is None:
            return
        os.close(self.read_end)
        os.waitpid(self.pid, 0)

    def result(self) -> Any:
        if self.pid is None:
            return None
        with os.fdopen(self.read_end, "rb") as pipe:
            data = pipe.read()
        if len(data) < 8 or int.from_bytes(data[:8], "little") != len(data) - 8:
            os.waitpid(self.pid, 0)  # it failed (no answer, or part of one) and has ended
            return None
        _collect(self.pid)
        import pickle  # the parallel path only: a small input is read without it (start-up, issue 18)

        try:
            with memoryview(data) as view:
                return pickle.loads(view[8:])
        except Exception:  # a worker that died half-way: the caller reads these files itself
            return None


class StreamingWorker:
    """A forked process running `task()`, a generator: each value it yields is sent at once.

    Values travel as length-prefixed pickles, so the parent unpickles the first ones while the
    worker is still computing the next (`poll()` between its own pieces of work) instead of
    unpickling everything after waiting for the last. `finish()` is every value, in order, or None
    when the worker failed.
    """

    def __init__(self, task: Callable[[], Iterable[object]]) -> None:
        import fcntl  # only where fork exists (see available_processes)
        import pickle  # noqa: F401  (imported once for both: the worker pickles, this process unpickles)

        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError):  # a larger pipe: the worker rarely waits for the parent
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_BYTES)
        pid = _fork(read_end, write_end)
        self.pid = pid
        self.read_end = read_end
        self._received = bytearray()
        self._values: list[object] = []
        self._broken = pid is None
        self._ended = False  # the worker sent its last value
        if pid is None:
            return
        if pid == 0:  # the child, as in Worker
            gc.disable()
            code = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as pipe:
                    for value in task():
                        data = dumps(value)
                        pipe.write(len(data).to_bytes(8, "little"))
                        pipe.write(data)
                        pipe.flush()
                    pipe.write(_END)
                code = 0
            finally:
                _leave(code)
        os.close(write_end)
        os.set_blocking(read_end, False)

    @property
    def received(self) -> Sequence[object]:
        """The values unpickled so far (by `poll`)."""
        return self._values

    def poll(self) -> None:
        """Unpickle whatever has arrived, without waiting."""
        if self.pid is None:
            return
        while True:
            try:
                chunk = os.read(self.read_end, _PIPE_BYTES)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._received += chunk
        self._unpickle()

    def finish(self) -> list[object] | None:
        """Wait for the worker to end: every value it sent, or None when it failed."""
        if self.pid is None:
            return None
        os.set_blocking(self.read_end, True)
        with os.fdopen(self.read_end, "rb") as pipe:
            self._received += pipe.read()
        self._unpickle()
        if not self._ended or self._broken or self._received:
            os.waitpid(self.pid, 0)  # it failed and has ended
            return None  # the caller does the work itself
        _collect(self.pid)
        return self._values

    def cancel(self) -> None:
        """Stop reading: the worker's next write fails, it exits, and it is reaped."""
        if self.pid is None:
            return
        os.close(self.read_end)
        os.waitpid(self.pid, 0)

    def _unpickle(self) -> None:
        import pickle  # the parallel path only (start-up, see Worker.result)

        received = self._received
        start = 0
        while not self._broken and len(received) - start >= 8:
            size = int.from_bytes(received[start : start + 8], "little")
            if size == 0:  # _END: every value is in (a pickle is never empty)
                self._ended = True
                start += 8
                continue
            if len(received) - start - 8 < size:
                break
            try:
                with memoryview(received) as view:
                    self._values.append(pickle.loads(view[start + 8 : start + 8 + size]))
            except Exception:  # a worker that died half-way: the caller does the work itself
                self._broken = True
            start += 8 + size
        del received[:start]


# What a streaming worker sends after its last value: a length of 0.
_END = bytes(8)

# Workers that answered in full and are still ending. Their answer is used at once: a process
# forked from a 200 MB heap takes 30-60 ms to end (the kernel frees its pages), which waiting for it
# put on this process's time after the compile. They are collected without waiting, when the
# next worker answers (or, in a one-shot command, by init once this process has left).
_ending: list[int] = []


def _collect(pid: int) -> None:
    """Collect the workers that have ended, `pid` (one that has answered) among them, never waiting."""
    _ending.append(pid)
    for ending in list(_ending):
        try:
            ended, _ = os.waitpid(ending, os.WNOHANG)
        except ChildProcessError:  # collected already (another waitpid in this process)
            ended = ending
        if ended:
            _ending.remove(ending)


def _leave(code: int) -> NoReturn:
    """End a worker without running the parent's exit code. Its copies of stdout and stderr are
    closed first: a reader of the parent's output (a pipe, as in CI) sees its end only once every
    copy is closed, and the kernel closes them after freeing the process's pages."""
    for descriptor in (1, 2):
        with contextlib.suppress(OSError):
            os.close(descriptor)
    os._exit(code)


def _fork(read_end: int, write_end: int) -> int | None:
    """`os.fork()`, or None when no process can be made (memory, a limit on processes): a worker
    that could not start is one that failed, and its work is done by the caller (only time lost)."""
    try:
        return os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None


# fcntl.F_SETPIPE_SZ (Linux; the constant is missing from older Pythons' fcntl module).
_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20


def _fast_reducer(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """`obj -> (cls, field values)` for a dataclass that `cls(*values)` rebuilds exactly.

    The reduction slots dataclasses get by default calls `dataclasses.fields()` for every object:
    this halves the cost of handing 15,000 objects to the parent.
    """
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if not fields or any(not f.init for f in fields):
        return None
    get = attrgetter(*(f.name for f in fields))
    if len(fields) == 1:
        return lambda obj: (cls, (get(obj),))
    return lambda obj: (cls, get(obj))


def _builder_reducer(cls: type, name: str) -> Callable[[Any], tuple[Any, ...]]:
    """`obj -> (builders.<name>, field values)`: the receiving process rebuilds the object with the
    builder its `ingressctl.model.builders` holds, the fast one once `speed_up_model` has run there
    (the parent runs it before forking the readers), instead of calling the class (a Python
    `__init__`, a setattr call per field): unpickling 15,000 objects takes about half as long.
    The builder is looked up when pickling, so a process that never sped up sends the plain one."""
    get = attrgetter(*(f.name for f in dataclasses.fields(cls)))
    return lambda obj: (getattr(builders, name), get(obj))


@functools.cache
def _dispatch_table() -> dict[type, Any]:
    """Built once per process: a reading worker pickles once per file (~0.6 ms each)."""
    table: dict[type, Any] = dict(copyreg.dispatch_table)
    for name in model.__all__:
        cls = getattr(model, name)
        if isinstance(cls, type):
            reducer = _fast_reducer(cls)
            if reducer is not None:
                table[cls] = reducer
    for name, cls in builders.BUILT.items():  # each builder's parameters are its class's fields, in order
        table[cls] = _builder_reducer(cls, name)
    return table


def dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    import pickle

    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump(value)
    return buffer.getvalue()
