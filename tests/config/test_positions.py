"""Line numbers for keys, computed from the TOML source (tomlkit keeps none)."""

from __future__ import annotations

from ingressctl.config.positions import Positions

SOURCE = '''# comment
top = 1
[entryPoints]
  [entryPoints."my-ep"]
  address = ":80"
  list = [
    "a",  # address = "not a key"
    "b",
  ]
  text = """
fake = "also not a key"
"""
  redirect.entryPoint = "https"
  auth = { basic = { users = ["a:b"] } }
[[acme.domains]]
main = "a"
[[acme.domains]]
main = "b"
  [acme.domains.extra]
  x = 1
[Kubernetes]
Token = "t"
'''


def test_lines() -> None:
    p = Positions(SOURCE)
    assert p.line(["top"]) == 2
    assert p.line(["entryPoints"]) == 3
    assert p.line(["entryPoints", "my-ep"]) == 4
    assert p.line(["entryPoints", "my-ep", "address"]) == 5
    assert p.line(["entryPoints", "my-ep", "list"]) == 6
    assert p.line(["entryPoints", "my-ep", "text"]) == 10
    assert p.line(["fake"]) == 0  # inside a multi-line string
    assert p.line(["entryPoints", "my-ep", "redirect", "entryPoint"]) == 13
    assert p.line(["entryPoints", "my-ep", "auth", "basic", "users"]) == 14  # inline table: its line
    assert p.line(["acme", "domains", 0, "main"]) == 16
    assert p.line(["acme", "domains", 1, "main"]) == 18
    assert p.line(["acme", "domains", 1, "extra", "x"]) == 20
    assert p.line(["kubernetes", "token"]) == 22  # case-insensitive
    assert p.line(["kubernetes", "endpoint"]) == 21  # absent key: its table
    assert p.duplicates == []


def test_duplicates_are_found() -> None:
    assert Positions("a = 1\n[t]\nb = 1\nb = 2\n").duplicates == [4]
