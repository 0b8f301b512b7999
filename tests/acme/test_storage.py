"""acme.json: every Traefik layout read by shape; our writes atomic and private; bad files never rewritten."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingressctl.acme.files import LockedFile, atomic_write, backup_path, remove_stale_temporaries
from ingressctl.acme.storage import (
    LAYOUT_V1,
    LAYOUT_V2,
    LAYOUT_V17,
    AcmeJsonStorage,
    CertRecord,
    Resolver,
    parse_acme_json,
    read_acme_file,
)
from ingressctl.model import ConfigError, InputError
from tests.acme.samples import ACCOUNT_URI, account_der, make_chain, v1_file, v2_resolver, v17_file, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def entries() -> list[tuple[str, list[str], bytes, bytes]]:
    a = make_chain(["a.example.test"])
    b = make_chain(["b.example.test", "c.example.test"], key_format="traditional")
    return [("a.example.test", [], *a), ("b.example.test", ["c.example.test"], *b)]


@pytest.mark.parametrize(
    ("builder", "layout"),
    [
        (v1_file, LAYOUT_V1),
        (v17_file, LAYOUT_V17),
        (lambda e: {"pebble": v2_resolver(e, key_type=True)}, LAYOUT_V2),
    ],
    ids=["v1.0-1.6", "v1.7", "v2-v3"],
)
def test_reads_every_layout(tmp_path: Path, entries, builder, layout) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "acme.json", builder(entries))
    parsed = read_acme_file(path)
    assert parsed.layout == layout and parsed.problems == []
    (res,) = parsed.resolvers
    assert res.account is not None
    assert res.account.email == "ops@example.test" and res.account.uri == ACCOUNT_URI
    assert res.account.private_key == account_der()
    assert [(c.main, c.sans) for c in res.certificates] == [
        ("a.example.test", ()),
        ("b.example.test", ("c.example.test",)),
    ]
    assert res.certificates[1].certificate == entries[1][2] and res.certificates[1].key == entries[1][3]


def test_a_v2_resolver_named_account_is_not_mistaken_for_v17(entries) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_acme_json(json.dumps({"Account": v2_resolver(entries)}), "x")
    assert parsed.layout == LAYOUT_V2 and parsed.resolvers[0].name == "Account"
    assert len(parsed.resolvers[0].certificates) == 2


def test_v2_variants_null_and_missing_certificates() -> None:
    doc = {"le": {"Account": None, "Certificates": None}, "empty": {}}
    parsed = parse_acme_json(json.dumps(doc), "x")
    assert [(r.name, r.account, r.certificates) for r in parsed.resolvers] == [
        ("le", None, []),
        ("empty", None, []),
    ]


def test_unreadable_entries_are_reported_not_fatal(entries) -> None:  # type: ignore[no-untyped-def]
    doc = {"default": v2_resolver(entries)}
    doc["default"]["Certificates"].append(
        {"domain": {"main": "x.example.test"}, "certificate": "%%%", "key": ""}
    )
    doc["default"]["Certificates"].append("junk")
    parsed = parse_acme_json(json.dumps(doc), "f.json")
    assert len(parsed.resolvers[0].certificates) == 3
    assert any("not valid base64" in p for p in parsed.problems)
    assert any("Certificates[3]" in p for p in parsed.problems)


@pytest.mark.parametrize("text", ['{"default": {"Account": {"Email": "x"', "[1, 2]", '{"a": 1}', "\x00\x01"])
def test_corrupt_files_raise_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "acme.json"
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(InputError) as err:
        read_acme_file(path)
    assert str(path) in str(err.value)


def test_storage_creates_a_0600_file_and_round_trips(tmp_path: Path) -> None:
    chain, key = make_chain(["a.example.test", "www.example.test"])
    storage = AcmeJsonStorage(tmp_path / "acme.json", "default")
    res = storage.load()
    assert res.account is None and res.certificates == []
    res.certificates.append(CertRecord("a.example.test", ("www.example.test",), chain, key))
    storage.save(res)
    assert stat.S_IMODE((tmp_path / "acme.json").stat().st_mode) == 0o600
    again = storage.load()
    assert again.certificates[0].certificate == chain and again.certificates[0].sans == ("www.example.test",)
    raw = json.loads((tmp_path / "acme.json").read_text())
    assert raw["default"]["Certificates"][0]["domain"] == {
        "main": "a.example.test",
        "sans": ["www.example.test"],
    }
    assert [p.name for p in tmp_path.iterdir()] == ["acme.json"]  # no temp file left behind


def test_save_keeps_other_resolvers(tmp_path: Path, entries) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "acme.json", {"other": v2_resolver(entries[:1])})
    storage = AcmeJsonStorage(path, "default")
    storage.save(storage.load())
    parsed = read_acme_file(path)
    assert [r.name for r in parsed.resolvers] == ["other", "default"]
    assert parsed.resolver("other").certificates[0].main == "a.example.test"  # type: ignore[union-attr]


def test_a_0644_file_is_refused(tmp_path: Path, entries) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "acme.json", {"default": v2_resolver(entries)}, mode=0o644)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as err:
        AcmeJsonStorage(path).load()
    assert "644" in str(err.value) and "chmod 600" in str(err.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("what", ["corrupt", "v1"])
def test_bad_files_are_never_rewritten(tmp_path: Path, entries, what: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "acme.json"
    if what == "corrupt":
        path.write_text('{"default": {"Account": {"Email": "ops@exa')
        os.chmod(path, 0o600)
    else:
        write(path, v1_file(entries))
    before = path.read_bytes()
    storage = AcmeJsonStorage(path)
    with pytest.raises(ConfigError):
        storage.load()
    with pytest.raises(ConfigError):
        storage.save(Resolver("default"))
    assert path.read_bytes() == before


CRASH = """
import os, sys
from pathlib import Path
from ingressctl.acme import files
real_fsync = os.fsync
def crash(fd):
    real_fsync(fd)
    os._exit(9)   # power cut after the new data hit the temp file, before the rename
os.fsync = crash
files.atomic_write(Path(sys.argv[1]), b'{"new": {}}')
"""


def test_a_crash_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    atomic_write(path, b'{"old": {}}')
    proc = subprocess.run([sys.executable, "-c", CRASH, str(path)], cwd=REPO, timeout=30)
    assert proc.returncode == 9
    assert path.read_bytes() == b'{"old": {}}'
    atomic_write(path, b'{"new": {}}')  # the next write succeeds despite the stale temp file
    assert path.read_bytes() == b'{"new": {}}' and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"default": {"Account": {"Email": "a@b", "Flavour": "x"}}},
            "default.Account: unknown key 'Flavour'",
        ),
        ({"default": {"Certificates": [{"domain": {"main": "a"}, "extra": 1}]}}, "unknown key 'extra'"),
        (
            {"default": {"Certificates": [{"domain": {"main": "a", "sans": "b"}}]}},
            "expected a list of strings",
        ),
        ({"default": {"Account": {"Email": 7}}}, "default.Account.Email: expected a string, found a number"),
        ({"default": {"Account": [], "Certificates": []}}, "default.Account: expected an object"),
    ],
)
def test_a_v2_file_not_fully_understood_is_refused_and_never_rewritten(
    tmp_path: Path, doc: dict[str, object], expected: str
) -> None:
    path = write(tmp_path / "acme.json", doc)
    before = path.read_bytes()
    storage = AcmeJsonStorage(path)
    with pytest.raises(ConfigError) as err:
        storage.load()
    assert expected in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        storage.save(Resolver("default"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme.json"]


def test_every_rewrite_keeps_the_previous_version_as_bak(tmp_path: Path, entries) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "acme.json"
    storage = AcmeJsonStorage(path)
    storage.save(Resolver("default"))
    assert not backup_path(path).exists()  # nothing was there before
    first = path.read_bytes()
    resolver = storage.load()
    resolver.certificates = [CertRecord("a.example.test", (), b"chain", b"key")]
    storage.save(resolver)
    assert backup_path(path).read_bytes() == first
    assert stat.S_IMODE(backup_path(path).stat().st_mode) == 0o600
    second = path.read_bytes()
    storage.save(storage.load())  # nothing changed: the backup still holds the version before
    assert path.read_bytes() == second and backup_path(path).read_bytes() == first


def test_a_temporary_file_named_like_ours_never_blocks_a_save(tmp_path: Path) -> None:
    # Temporaries used to be named by PID and opened exclusively: PID 1 (every container's serve) found
    # its own predecessor's leftover and could never save again.
    path = tmp_path / "acme.json"
    leftover = tmp_path / f".acme.json.{os.getpid()}.tmp"
    leftover.write_bytes(b"half")
    atomic_write(path, b"{}")
    assert path.read_bytes() == b"{}"
    assert remove_stale_temporaries(path) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme.json"]


def test_loading_the_storage_removes_stale_temporaries(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    atomic_write(path, b"{}")
    stale = [tmp_path / ".acme.json.1.tmp", tmp_path / ".acme.json.ratelimits.77.tmp"]
    for leftover in stale:
        leftover.write_bytes(b"{")
    other = tmp_path / ".other.json.1.tmp"
    other.write_bytes(b"{")
    AcmeJsonStorage(path).load()
    assert not any(p.exists() for p in stale) and other.exists()


def test_locked_file_updates_from_many_threads_lose_nothing(tmp_path: Path) -> None:
    blob = LockedFile(tmp_path / "counter.json")

    def bump(current: bytes | None) -> bytes:
        return str(int(current or b"0") + 1).encode()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: blob.update(bump), range(40)))
    assert blob.load_bytes() == b"40"
    assert stat.S_IMODE((tmp_path / "counter.json").stat().st_mode) == 0o600
