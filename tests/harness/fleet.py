"""A rendered cluster whose machines are directories: the real ansible-playbook runs the render's own
playbooks against them, each host with `ansible_connection: local` and its own --root.

What runs is real: Ansible, the playbooks, apply.sh and install-harbor.sh. The stand-ins are those of
tests/stubs (docker, docker-compose, systemctl, mount, mysql, curl), shared by every host through one
STUB_STATE (so its calls file is the order of what ran, across hosts), and an installer's `prepare`
that only writes the files the install step then locks down: the real 1.1.2 prepare reads the
secretkey at an absolute path, which a directory machine cannot give it (test_apply runs it for real).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from generator.writer import write_tree
from tests.harness.machine1 import INSTALLER, Machine
from tests.helpers import compiled, make_packs, secrets_for, write_secrets_file

STUBS = Path(__file__).parent.parent / "stubs"
BIN = Path(sys.executable).parent

STAND_IN_PREPARE = """#!/usr/bin/env bash
# Test stand-in for the installer's prepare: the files install-harbor.sh locks down.
set -euo pipefail
mkdir -p common/config/ui common/config/adminserver common/config/jobservice common/config/registry
for file in ui/env adminserver/env jobservice/env registry/config.yml; do
    echo "written by the stand-in prepare" > "common/config/$file"
done
printf 'prepare (in %s)\\n' "$PWD" >> "$STUB_STATE/calls"
"""


def ansible_tool(name: str) -> str:
    """ansible-playbook and ansible-lint come with the test extra, into this interpreter's environment."""
    return str(BIN / name)


class Fleet:
    """The machines of one topology, its render under out/, its packs, and an inventory of local hosts."""

    def __init__(self, directory: Path, topology: Path, token_pair: tuple[str, str], values: dict[str, str] | None = None):
        cluster, tree = compiled(topology)
        self.cluster = cluster
        self.out = directory / "out" / cluster
        write_tree(tree, self.out)
        self.values = values or secrets_for(topology, token_pair)
        self.packs = make_packs(topology, write_secrets_file(directory / "secrets.yaml", self.values), directory / "packs")
        self.state = directory / "state"
        self.state.mkdir()
        self.reports = directory / "reports"
        inventory = yaml.safe_load((self.out / "ansible/inventory.yml").read_text().replace("!unsafe ", ""))
        self.nodes = list(inventory["all"]["hosts"])
        self.machines = {name: Machine(directory / "machines" / name, self.out, self.packs, self.values) for name in self.nodes}
        for machine in self.machines.values():
            prepare = machine.root / INSTALLER / "prepare"
            prepare.write_text(STAND_IN_PREPARE)
            prepare.chmod(0o755)
        self.hosts = directory / "hosts.yml"
        self.hosts.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "harborgen_root": str(machine.root),
            "harborgen_bundle_dir": str(machine.root / "var/lib/harborgen/bundle"),
        } for name, machine in self.machines.items()}}}))
        self.home = directory / "home"
        self.home.mkdir()

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{STUBS}:{BIN}:{os.environ['PATH']}",
            "STUB_STATE": str(self.state),
            "HARBORGEN_POLL_SECONDS": "0",
            "HARBORGEN_START_TIMEOUT": "1",
            "HOME": str(self.home),
            "ANSIBLE_LOCAL_TEMP": str(self.home / "local"),
            "ANSIBLE_REMOTE_TEMP": str(self.home / "remote"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_STDOUT_CALLBACK": "default",
        }

    def playbook(self, name: str, *options: str, timeout: int = 300) -> subprocess.CompletedProcess:
        """ansible-playbook on the render's own NAME, with its inventory and the local hosts over it."""
        directory = self.out / "ansible"
        command = [ansible_tool("ansible-playbook"), "-i", str(directory / "inventory.yml"), "-i", str(self.hosts),
                   "-e", f"harborgen_packs={self.packs}", "-e", f"harborgen_reports={self.reports}",
                   str(directory / name), *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.environment(), cwd=directory)

    def apply_by_hand(self, name: str) -> None:
        """What an operator runs on the machine without Ansible: apply.sh, then install-harbor.sh on a Harbor node."""
        machine, bundle = self.machines[name], self.out / name
        scripts = [["apply.sh", "--secrets", str(self.packs / name)]]
        if (bundle / "install-harbor.sh").exists():
            scripts.append(["install-harbor.sh"])
        for script, *arguments in scripts:
            result = subprocess.run(["bash", str(bundle / script), *arguments, "--root", str(machine.root)],
                                    capture_output=True, text=True, timeout=120, env=self.environment())
            assert result.returncode == 0, result.stdout + result.stderr

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP, host -> {ok, changed, unreachable, failed, skipped, rescued, ignored}."""
    found = {}
    lines = output[output.rindex("PLAY RECAP"):].splitlines()[1:]
    for line in lines:
        if ":" not in line:
            continue
        host, counts = line.split(":", 1)
        found[host.strip()] = {key: int(value) for key, value in (pair.split("=") for pair in counts.split())}
    return found
