"""Stopping the servers tests start, whatever state they are in."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM, then SIGKILL after a grace period; always reaps the process."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
