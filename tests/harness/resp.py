"""A minimal Redis (RESP) client for the tests that talk to the real Redis and Sentinel: a few
commands each, no library needed."""

from __future__ import annotations

import socket


def command(connection: socket.socket, *args: str):
    """One RESP command and its reply (a minimal client: the tests need no library for five commands)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in args)
    connection.sendall(payload.encode())
    reader = connection.makefile("rb")
    return reply(reader)


def reply(reader):
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if rest == "-1" else reader.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return [reply(reader) for _ in range(int(rest))]
    raise AssertionError(f"unexpected reply {line!r}")
