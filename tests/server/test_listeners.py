"""Binding entrypoints: a failure is one line naming the address, the entrypoint and the fix."""

from __future__ import annotations

import os
import socket

import pytest

from ingressctl.model import ConfigError
from ingressctl.server.listeners import bind_socket, split_address


def test_privileged_port_as_unprivileged_user_explains() -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to "nobody" when root, then try to bind port 80 for real
        os.close(read_fd)
        message = "bound"
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            bind_socket("http", "127.0.0.1:80").close()
        except ConfigError as exc:
            message = str(exc)
        os.write(write_fd, message.encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        message = f.read()
    os.waitpid(pid, 0)
    assert message.startswith("cannot listen on 127.0.0.1:80 for entrypoint 'http': permission denied")
    assert "--entrypoint http=:8000" in message


def test_address_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            bind_socket("web", f"127.0.0.1:{port}")
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port} for entrypoint 'web': address already in use; "
        "stop the other server or pass --entrypoint web=:PORT"
    )
    # A TLS entrypoint's address comes from the file only (--entrypoint refuses TLS entrypoints).
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            bind_socket("websecure", f"127.0.0.1:{port}", tls=True)
    assert str(info.value).endswith(
        "stop the other server or change entryPoints.websecure.address in the configuration file"
    )


def test_split_address() -> None:
    assert split_address(":80") == ("", 80)
    assert split_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert split_address("[::1]:443") == ("::1", 443)
    with pytest.raises(ConfigError):
        split_address("localhost")
