"""Inputs: stdin, directories, file types, unreadable paths, and YAML that tries to hurt."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from ingressctl.manifests import load_paths
from ingressctl.model import InputError

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{ports: [{{port: 80}}]}}
"""


def test_stdin_is_read_once_and_named(tmp_path: Path) -> None:
    result = load_paths(["-", "-"], stdin=io.StringIO(SERVICE.format(name="piped")))
    assert [s.meta.name for s in result.snapshot.services] == ["piped"]
    assert result.files == ["<stdin>"]
    assert result.snapshot.services[0].meta.location is not None
    assert str(result.snapshot.services[0].meta.location) == "<stdin>:1:1"


def test_directories_recursively_in_order_with_hidden_entries_skipped(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.yaml").write_text(SERVICE.format(name="a"))
    (tmp_path / "b" / "c.yml").write_text(SERVICE.format(name="c"))
    (tmp_path / "b" / "d.json").write_text(
        '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "d"},'
        ' "spec": {"ports": [{"port": 80}]}}'
    )
    (tmp_path / "notes.txt").write_text(SERVICE.format(name="ignored-extension"))
    (tmp_path / ".hidden.yaml").write_text(SERVICE.format(name="ignored-hidden"))
    # What a mounted ConfigMap looks like: the real files live under ..data.
    (tmp_path / "..data").mkdir()
    (tmp_path / "..data" / "a.yaml").write_text(SERVICE.format(name="ignored-configmap-copy"))
    result = load_paths([str(tmp_path)])
    assert [s.meta.name for s in result.snapshot.services] == ["a", "c", "d"]
    assert result.files == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b" / "c.yml"),
        str(tmp_path / "b" / "d.json"),
    ]
    assert result.diagnostics == []


def test_a_named_file_loads_whatever_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "manifest.txt"
    path.write_text(SERVICE.format(name="txt"))
    assert [s.meta.name for s in load_paths([str(path)]).snapshot.services] == ["txt"]


def test_json_that_yaml_refuses_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "tabs.json"
    path.write_text(
        '{\n\t"apiVersion": "v1",\n\t"kind": "Service",\n\t"metadata": {"name": "tabbed\\/json"},\n'
        '\t"spec": {"ports": [{"port": 80}]}\n}\n'
    )
    result = load_paths([str(path)])
    assert result.diagnostics == []
    assert [s.meta.name for s in result.snapshot.services] == ["tabbed/json"]


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no-such\.yaml: no such file or directory") as info:
        load_paths([str(tmp_path / "no-such.yaml")])
    assert info.value.exit_code == 2


def test_undecodable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("metadata: {name: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.yaml: not UTF-8 text \(byte 0xe9 at offset 20\)"):
        load_paths([str(path)])


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(SERVICE.format(name="x"))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            # root reads anything; a directory entry that is a dangling link fails for everyone
            path.chmod(0o644)
            link = tmp_path / "dangling.yaml"
            link.symlink_to(tmp_path / "gone.yaml")
            with pytest.raises(InputError, match=r"dangling\.yaml"):
                load_paths([str(tmp_path)])
        else:
            with pytest.raises(InputError, match=r"secret\.yaml: cannot be read"):
                load_paths([str(path)])
    finally:
        path.chmod(0o644)


def test_utf16_with_bom_and_utf8_bom_load(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(SERVICE.format(name="utf16").encode("utf-16"))
    (tmp_path / "b.yaml").write_bytes(b"\xef\xbb\xbf" + SERVICE.format(name="bom").encode())
    result = load_paths([str(tmp_path)])
    assert [s.meta.name for s in result.snapshot.services] == ["utf16", "bom"]


def test_billion_laughs_is_refused_fast(fixtures: Path) -> None:
    start = time.process_time()
    result = load_paths([str(fixtures / "findings" / "ic003_billion_laughs.yaml")])
    elapsed = time.process_time() - start
    assert elapsed < 0.25, f"took {elapsed:.2f}s"
    assert [d.code for d in result.diagnostics] == ["IC003"]
    assert "490329064" in result.diagnostics[0].message


def test_billion_laughs_inside_an_ingress_leaves_the_other_documents(load_yaml) -> None:  # type: ignore[no-untyped-def]
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 8):
        levels.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: bomb\n  labels:\n"
    bomb += "".join(f"    {line}\n" for line in levels)
    text = SERVICE.format(name="before") + "---\n" + bomb + "---\n" + SERVICE.format(name="after")
    start = time.process_time()
    result = load_yaml(text)
    assert time.process_time() - start < 0.25
    assert [d.code for d in result.diagnostics] == ["IC003"]
    assert [s.meta.name for s in result.snapshot.services] == ["before", "after"]


def test_moderate_anchor_reuse_is_fine(load_yaml) -> None:  # type: ignore[no-untyped-def]
    text = "apiVersion: v1\nkind: List\nitems:\n"
    text += "- &svc {apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}]}}\n"
    text += "- *svc\n" * 200
    result = load_yaml(text)
    assert [d.code for d in result.diagnostics] == []
    assert len(result.snapshot.services) == 201


def test_nesting_too_deep_is_a_finding(load_yaml) -> None:  # type: ignore[no-untyped-def]
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    result = load_yaml(SERVICE.format(name="ok") + "---\n" + deep)
    assert [d.code for d in result.diagnostics] == ["IC004"]
    assert [s.meta.name for s in result.snapshot.services] == ["ok"]
    block = "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v\n"
    result = load_yaml(block)
    assert [d.code for d in result.diagnostics] == ["IC004"]


def test_syntax_error_position_and_recovery(load_yaml) -> None:  # type: ignore[no-untyped-def]
    text = (
        SERVICE.format(name="one")
        + "---\nmetadata:\n  name: x\n   bad: indent\n---\n"
        + SERVICE.format(name="two")
    )
    result = load_yaml(text)
    (diagnostic,) = result.diagnostics
    assert diagnostic.code == "IC001"
    assert (diagnostic.location.line, diagnostic.location.column) == (8, 7)
    assert [s.meta.name for s in result.snapshot.services] == ["one", "two"]


def test_tabs_and_control_characters(load_yaml) -> None:  # type: ignore[no-untyped-def]
    result = load_yaml("apiVersion: v1\nkind: Service\nmetadata:\n\tname: tab\n")
    assert [d.code for d in result.diagnostics] == ["IC001"]
    assert result.diagnostics[0].location.line == 4
    result = load_yaml(SERVICE.format(name="ok") + "---\nmetadata: {name: \x07}\n")
    assert [d.code for d in result.diagnostics] == ["IC001"]
    assert result.diagnostics[0].location.line == 6
    assert [s.meta.name for s in result.snapshot.services] == ["ok"]


def test_yaml_directives_and_document_end_markers(load_yaml) -> None:  # type: ignore[no-untyped-def]
    text = "%YAML 1.1\n---\n" + SERVICE.format(name="a") + "...\n---\n" + SERVICE.format(name="b") + "...\n"
    result = load_yaml(text)
    assert result.diagnostics == []
    assert [s.meta.name for s in result.snapshot.services] == ["a", "b"]


def test_empty_documents_and_comments_only(load_yaml) -> None:  # type: ignore[no-untyped-def]
    result = load_yaml("# nothing\n---\n---\n# still nothing\n")
    assert (result.diagnostics, result.documents, result.snapshot.services) == ([], 0, ())


def test_explicit_core_tags(load_yaml) -> None:  # type: ignore[no-untyped-def]
    result = load_yaml(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {port: !!str 80, list: !!str [x]}\n"
        "spec: {ports: [{port: !!int '80'}]}\n"
    )
    assert [(d.code, d.location.line, d.location.column) for d in result.diagnostics] == [("IC005", 5, 34)]
    assert "tag !!str cannot apply to a list" in result.diagnostics[0].message
    (service,) = result.snapshot.services
    assert service.meta.labels == {"port": "80", "list": ""}
    assert service.ports[0].port == 80


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SERVICE.format(name="a"))
    (tmp_path / "link.yaml").symlink_to(tmp_path / "a.yaml")
    result = load_paths([str(tmp_path), str(tmp_path / "a.yaml")])
    assert [s.meta.name for s in result.snapshot.services] == ["a"]
    assert result.files == [str(tmp_path / "a.yaml")]


def test_empty_namespace_is_the_default_one(load_yaml) -> None:  # type: ignore[no-untyped-def]
    result = load_yaml(
        'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: ""}\nspec: {ports: [{port: 1}]}\n'
    )
    assert result.diagnostics == []
    assert result.snapshot.services[0].meta.namespace == "default"


def test_symlinked_directories_are_followed_once_without_configmap_copies(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "a.yaml").write_text(SERVICE.format(name="a"))
    # A directory linked in from elsewhere is read like a real one.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "s.yaml").write_text(SERVICE.format(name="shared"))
    (root / "linked").symlink_to(shared, target_is_directory=True)
    # A ConfigMap volume mounted below the directory: files are links into ..data, a link to a
    # timestamped directory; only the visible names count.
    mount = root / "team"
    mount.mkdir()
    stamp = mount / "..2026_11_26_09_00_00.123"
    stamp.mkdir()
    (stamp / "t.yaml").write_text(SERVICE.format(name="team"))
    (mount / "..data").symlink_to(stamp.name, target_is_directory=True)
    (mount / "t.yaml").symlink_to("..data/t.yaml")
    # Loops and a second link to a directory already read end, each directory read once.
    (root / "loop").symlink_to(".", target_is_directory=True)
    (root / "zz-again").symlink_to(shared, target_is_directory=True)
    result = load_paths([str(root)])
    assert result.diagnostics == []
    assert [s.meta.name for s in result.snapshot.services] == ["a", "shared", "team"]
    assert result.files == [
        str(root / "a.yaml"),
        str(root / "linked" / "s.yaml"),
        str(root / "team" / "t.yaml"),
    ]


def test_a_directory_given_through_a_symlink_and_a_dangling_link_inside(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.yaml").write_text(SERVICE.format(name="a"))
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert [s.meta.name for s in load_paths([str(tmp_path / "link")]).snapshot.services] == ["a"]
    (real / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    with pytest.raises(
        InputError, match=r"gone\.yaml: symbolic link to .*missing\.yaml, which does not exist"
    ):
        load_paths([str(real)])
