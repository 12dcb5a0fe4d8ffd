"""Real nginx in front of stub Harbor nodes, all on loopback, for load-balancer tests and the benchmark."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tests.harness.processes import stop

ROOT = Path(__file__).resolve().parents[2]
UPSTREAMS = {"h1": "127.0.0.11", "h2": "127.0.0.12", "h3": "127.0.0.13"}
UPSTREAM_PORT = 80  # Harbor's own proxy listens on 80 on every node
BALANCER = "127.0.0.10"
START_TIMEOUT = 20


def wait_for_port(address: str, port: int, process: subprocess.Popen, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited: {log.read_text() if log and log.exists() else ''}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {address}:{port}") from None
            time.sleep(0.05)


class Upstreams:
    """Three stub Harbor nodes, one process each so that one can be killed."""

    def __init__(self):
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.stub_harbor", UPSTREAMS[name], str(UPSTREAM_PORT), name],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.processes[name] = process
        wait_for_port(UPSTREAMS[name], UPSTREAM_PORT, process)

    def kill(self, name: str) -> None:
        stop(self.processes.pop(name))

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name)


def loopback_site(site: str, port: int) -> str:
    """The site with its listen socket on 127.0.0.10 only (tests bind loopback addresses only)."""
    if re.search(rf"^\s*listen\s+{re.escape(BALANCER)}:{port}\b", site, flags=re.M):
        return site
    text, count = re.subn(rf"^(\s*)listen\s+{port}\b", rf"\g<1>listen {BALANCER}:{port}", site, flags=re.M)
    if count != 1:
        raise ValueError(f"expected exactly one 'listen {port}' directive, found {count}")
    return text


class Nginx:
    """A real nginx serving one conf.d site, with its temporary files in a directory we can watch."""

    def __init__(self, directory: Path, site: str, port: int):
        self.directory, self.port = directory, port
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "site.conf").write_text(loopback_site(site, port))
        self.body_temp, self.proxy_temp = directory / "client_body_temp", directory / "proxy_temp"
        (directory / "nginx.conf").write_text(
            "user root;\nworker_processes 1;\n"
            f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {directory}/access.log;\n"
            f"    client_body_temp_path {self.body_temp};\n"
            f"    proxy_temp_path {self.proxy_temp};\n"
            f"    include {directory}/site.conf;\n"
            "}\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self, binary: str) -> None:
        self.process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(BALANCER, self.port, self.process, self.directory / "error.log")

    def stop(self) -> None:
        if self.process:
            stop(self.process)

    def pids(self) -> list[int]:
        """The master and its workers."""
        master = self.process.pid
        workers = []
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                workers.append(int(stat_file.parent.name))
        return [master, *workers]

    def temp_files_open(self) -> set[str]:
        """Temporary files nginx holds open now (it unlinks them at once, so look at descriptors)."""
        found = set()
        for pid in self.pids():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith((str(self.body_temp), str(self.proxy_temp))):
                    found.add(target)
        return found


@contextmanager
def watching(nginx: Nginx, interval: float = 0.02):
    """Collects every temporary file nginx opens while the block runs."""
    seen: set[str] = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.update(nginx.temp_files_open())
            done.wait(interval)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join(timeout=5)


def connection(host: str, port: int, source: str = "127.0.0.20") -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, port, timeout=120, source_address=(source, 0))


def upload(conn: http.client.HTTPConnection, size: int, *, chunked: bool, block: int = 1024 * 1024):
    """Send size zero bytes in one PUT; the response, or the error that cut the request."""
    data = bytes(block)

    def blocks():
        left = size
        while left:
            yield data[: min(block, left)]
            left -= min(block, left)

    headers = {"Content-Type": "application/octet-stream"}
    if not chunked:
        headers["Content-Length"] = str(size)
    conn.request("PUT", "/v2/library/test/blobs/uploads/1", body=blocks(), headers=headers, encode_chunked=chunked)
    return conn.getresponse()


def download(conn: http.client.HTTPConnection, size: int) -> tuple[int, int]:
    conn.request("GET", f"/blob/{size}")
    response = conn.getresponse()
    received = 0
    while chunk := response.read(1024 * 1024):
        received += len(chunk)
    return response.status, received
