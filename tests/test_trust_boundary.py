"""Input from someone other than the operator at the keyboard: a node's report, a pull request,
the secrets file's owner. Each ends in a clean refusal that names the path, or in correct
output; never a traceback (exit 70), a hang, raw terminal escapes or a secret on screen.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.bundle import MANIFEST, sha256
from tests.harness.machine1 import INSTALLER, Machine
from tests.helpers import ROOT, compiled, run_cli, run_harborgen
from tests.hostile import hostile_property

TOPOLOGY = ROOT / "topology.yaml"
NODES = ("admin", "mysql", "nginx", "node0", "node1")
# What a terminal or a markdown renderer would act on: C0 and C1 controls, DEL, lone surrogates.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _digests() -> dict[str, str]:
    _, tree = compiled(TOPOLOGY)
    return {node: sha256(tree[f"{node}/{MANIFEST}"].content) for node in NODES}


def _report(node: str, drift: list[dict] | None = None) -> dict:
    digest = _digests()[node]
    return {"cluster": "harbor-ceph", "node": node, "bundle": digest, "applied": digest,
            "mounted": node in ("admin", "node0", "node1") or None, "drift": drift or []}


def _reports(directory: Path, **special: str | bytes) -> Path:
    """A report for every node, as apply.sh writes them, but SPECIAL's nodes: the given file text."""
    directory.mkdir(exist_ok=True)
    for node in NODES:
        content = special.get(node, json.dumps(_report(node)))
        (directory / f"{node}.json").write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return directory


def _audit(directory: Path, *options: str) -> tuple[int, str, str]:
    return run_cli("audit", str(TOPOLOGY), "--reports", str(directory), *options)


def test_escape_sequences_in_a_report_never_reach_the_terminal(tmp_path):
    fake = "\x1b[1A\x1b[2K5 of 5 nodes hold what Git says\r"
    drift = [{"path": fake, "kind": "content changed\x1b]0;owned\x07"}]
    code, stdout, _ = _audit(_reports(tmp_path / "r", node0=json.dumps(_report("node0", drift))))
    assert code == 1
    assert not RAW_CONTROL.search(stdout), repr(stdout)
    assert "\\x1b[1A" in stdout and "1 of 5" not in stdout and "4 of 5 nodes hold what Git says; look at: node0" in stdout


def test_html_in_a_report_cannot_close_the_markdown_details(tmp_path):
    drift = [{"path": "/etc/x", "kind": "</details><!-- hide the rest | | <script>alert(1)</script>"}]
    code, stdout, _ = _audit(_reports(tmp_path / "r", node0=json.dumps(_report("node0", drift))), "--format", "markdown")
    assert code == 1
    assert stdout.count("</details>") == 1 and "<!--" not in stdout and "<script>" not in stdout
    assert "&lt;/details&gt;&lt;!--" in stdout


@pytest.mark.parametrize("case", ["deep", "surrogate", "huge", "padded", "binary"])
def test_a_malformed_report_is_one_unreadable_row_and_the_others_still_show(tmp_path, case):
    content = {
        "deep": "[" * 200_000 + "]" * 200_000,
        "surrogate": json.dumps(_report("node0", [{"path": "/etc/\ud800", "kind": "content changed"}])),
        "huge": json.dumps(_report("node0", [{"path": "x" * (2 << 20), "kind": "content changed"}])),
        "padded": json.dumps(_report("node0")) + " " * (2 << 20),  # valid in its first MiB: once accepted
        "binary": b"\xff\xfe{}",
    }[case]
    code, stdout, stderr = _audit(_reports(tmp_path / "r", node0=content))
    assert "internal error" not in stderr and code != 70
    if case == "surrogate":  # readable: the path is shown escaped
        assert code == 1 and "\\ud800" in stdout and not RAW_CONTROL.search(stdout)
        return
    assert code == 2, (stdout, stderr)
    assert re.search(r"^node0 .* unreadable report", stdout, re.M), stdout
    for node in ("admin", "mysql", "nginx", "node1"):
        assert re.search(rf"^{node} .* up to date", stdout, re.M), stdout
    assert f"{tmp_path / 'r' / 'node0.json'}:1:1:" in stderr


def test_a_link_or_a_fifo_in_the_reports_directory_is_refused_without_reading_it(tmp_path):
    secret = tmp_path / "elsewhere.json"
    secret.write_text(json.dumps("root-password-H0rse"))
    reports = _reports(tmp_path / "r")
    (reports / "node0.json").unlink()
    (reports / "node0.json").symlink_to(secret)
    (reports / "node1.json").unlink()
    os.mkfifo(reports / "node1.json")
    result = run_harborgen("audit", str(TOPOLOGY), "--reports", str(reports))  # a FIFO must not hang it
    assert result.returncode == 2, result.stderr
    assert "root-password-H0rse" not in result.stdout + result.stderr
    assert "a symbolic link: reports are read from regular files only" in result.stderr
    assert "a FIFO, not a regular file" in result.stderr
    assert re.search(r"^node1 .* unreadable report", result.stdout, re.M)


def test_a_schema_error_never_quotes_what_the_report_holds(tmp_path):
    leaked = json.dumps({**_report("node0"), "mounted": "root-password-H0rse"})
    code, stdout, stderr = _audit(_reports(tmp_path / "r", node0=leaked))
    assert code == 2 and "mounted fails the schema's 'type' rule" in stderr
    assert "root-password-H0rse" not in stdout + stderr


@hostile_property
@given(path=st.text(max_size=40), kind=st.text(max_size=40), fmt=st.sampled_from(["text", "markdown"]))
def test_any_strings_in_a_report_end_cleanly_and_print_escaped(tmp_path_factory, path, kind, fmt):
    directory = tmp_path_factory.mktemp("reports")
    drift = [{"path": path, "kind": kind}]
    code, stdout, stderr = _audit(_reports(directory, node0=json.dumps(_report("node0", drift))), "--format", fmt)
    assert code in (0, 1, 2), stderr
    assert not RAW_CONTROL.search(stdout + stderr), repr(stdout + stderr)
    if fmt == "markdown":
        assert stdout.count("<details>") <= 1 and stdout.count("</details>") <= 1


def test_check_diff_says_a_secret_bearing_file_differs_and_never_what_it_holds(tmp_path, token_pair):
    from tests.helpers import secrets_for, write_secrets_file

    values = secrets_for(TOPOLOGY, token_pair, harbor_admin_password="Adm1n-Pl4nted-Secret")
    secrets = write_secrets_file(tmp_path / "s.yaml", values)
    out = tmp_path / "shipping"
    assert run_harborgen("materialize", str(TOPOLOGY), "--secrets", str(secrets), "--out", str(out)).returncode == 0
    result = run_harborgen("check", str(TOPOLOGY), "--out", str(out), "--diff")
    assert result.returncode == 1
    assert "node0/harbor/harbor.cfg: differs, and holds a secret: not shown" in result.stderr
    for name, value in values.items():
        for line in value.splitlines():
            if len(line) >= 8:
                assert line not in result.stdout + result.stderr, f"{name} shown"


# --- a pull request can hide nothing from its review --------------------------------------------

def _repository(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    import subprocess

    repository = tmp_path / "repo"
    repository.mkdir()
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    (repository / "topology.yaml").write_text(text)
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "topology.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return repository, git


def test_a_work_tree_file_named_like_the_revision_cannot_become_the_base(tmp_path):
    seed = TOPOLOGY.read_text()
    repository, _ = _repository(tmp_path, seed)
    changed = seed.replace("max_job_workers: 3", "max_job_workers: 9")
    (repository / "topology.yaml").write_text(changed)
    (repository / "main:topology.yaml").write_text(changed)  # what the pull request adds
    result = run_harborgen("diff", "main:topology.yaml", "topology.yaml", "--exit-code", cwd=repository)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "names both a file in this directory and topology.yaml at Git revision main" in result.stderr
    assert "no change" not in result.stdout
    explicit = run_harborgen("diff", "./main:topology.yaml", "topology.yaml", cwd=repository)
    assert explicit.returncode == 0 and "no change in any bundle" in explicit.stdout, explicit.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_new_lint_accept_entry_is_a_change_to_review(tmp_path, fmt):
    seed = TOPOLOGY.read_text()
    assert "lint:\n  accept:\n" in seed
    new = tmp_path / "new.yaml"
    new.write_text(seed.replace("lint:\n  accept:\n", "lint:\n  accept:\n    - rule: HG301\n      reason: \"<!-- trust me -->\"\n", 1))
    code, stdout, stderr = run_cli("diff", str(TOPOLOGY), str(new), "--exit-code", "--format", fmt)
    assert code == 1, stdout + stderr
    assert "no change" not in stdout and "HG301 now accepted" in stdout
    if fmt == "markdown":
        assert "<!--" not in stdout
    if fmt == "json":
        from jsonschema import Draft202012Validator

        from generator.resources import SCHEMA_FILE

        report = json.loads(stdout)
        Draft202012Validator(json.loads((SCHEMA_FILE.parent / "diff-report.schema.json").read_text())).validate(report)
        assert report["review"] and not report["empty"]


def test_a_revision_that_names_a_directory_or_a_huge_blob_is_refused_in_a_sentence(tmp_path):
    import subprocess

    repository, git = _repository(tmp_path, TOPOLOGY.read_text())
    (repository / "sub").mkdir()
    (repository / "sub/topology.yaml").write_text(TOPOLOGY.read_text())
    with (repository / "huge.yaml").open("wb") as stream:  # sparse: 3 MiB of nothing
        stream.truncate(3 << 20)
    subprocess.run([*git, "add", "sub", "huge.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "more"], check=True)
    tree = run_harborgen("diff", "HEAD:sub", "topology.yaml", cwd=repository)
    assert tree.returncode == 2 and "HEAD:sub is a directory in Git, not a file" in tree.stderr, tree.stderr
    huge = run_harborgen("diff", "HEAD:huge.yaml", "topology.yaml", cwd=repository)
    assert huge.returncode == 2 and "is 3145728 bytes in Git (expected a topology of at most" in huge.stderr, huge.stderr


# --- the secrets file: the policy holds for the bytes that are read -------------------------------

def _secrets_file(tmp_path: Path, token_pair, **overrides: str) -> Path:
    from tests.helpers import secrets_for, write_secrets_file

    return write_secrets_file(tmp_path / "secrets.yaml", secrets_for(TOPOLOGY, token_pair, **overrides))


def test_a_private_secrets_file_of_another_user_is_refused(tmp_path, token_pair):
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    secrets = _secrets_file(tmp_path, token_pair)
    os.chown(secrets, 65534, 65534)  # nobody: 0600, and not ours
    before = secrets.read_bytes()
    for args in (("secrets", "check"), ("secrets", "generate")):
        code, stdout, stderr = run_cli(*args, str(TOPOLOGY), "--secrets", str(secrets))
        assert code == 2 and "owned by uid 65534, not by you" in stderr, (args, stdout, stderr)
    assert secrets.read_bytes() == before


def test_the_file_whose_mode_is_checked_is_the_file_that_is_read(tmp_path, token_pair, monkeypatch):
    """A link swapped between the check and the read must not win: the check is on the descriptor read."""
    (tmp_path / "private").mkdir()
    private = _secrets_file(tmp_path / "private", token_pair)
    exposed = tmp_path / "exposed.yaml"
    exposed.write_text(private.read_text().replace("harbor_admin_password:", "harbor_admin_password: 'swapped'\nold_admin:"))
    exposed.chmod(0o644)
    link = tmp_path / "secrets.yaml"
    link.symlink_to(private)
    real_open = os.open

    def swapping_open(path, *args, **kwargs):
        if os.fspath(path) == str(link) and link.resolve() == private:
            link.unlink()
            link.symlink_to(exposed)  # the attacker's move, right before harborgen opens the file
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapping_open)
    code, stdout, stderr = run_cli("secrets", "check", str(TOPOLOGY), "--secrets", str(link))
    assert code == 2 and "has mode 0644" in stderr, (stdout, stderr)


# --- apply.sh: root writes only to real files in directories only root can change ----------------

@pytest.fixture(scope="module")
def seed_cluster(tmp_path_factory, token_pair):
    """The seed's bundles and packs, made once, and a Machine for them: each example gets a root of its own."""
    from generator.writer import write_tree
    from tests.helpers import make_packs, secrets_for, write_secrets_file

    directory = tmp_path_factory.mktemp("seed")
    _, tree = compiled(TOPOLOGY)
    write_tree(tree, directory / "out" / "harbor-ceph")
    values = secrets_for(TOPOLOGY, token_pair)
    packs = make_packs(TOPOLOGY, write_secrets_file(directory / "secrets.yaml", values), directory / "packs")
    return lambda machine_directory: Machine(machine_directory, directory / "out" / "harbor-ceph", packs, values)


TARGETS = (  # what apply.sh writes on node0, from the top: each component is a place to plant something
    f"{INSTALLER}/common/templates/ui/private_key.pem",
    "etc/ceph/admin.secret",
    "var/lib/harborgen/harbor-ceph/node0.installed",
    "var/lib/harborgen/harbor-ceph/secretkey.sha256",
    "etc/systemd/system/docker.service.d/harborgen-cephfs.conf",
)
KINDS = ("link-to-directory", "link-to-file", "directory", "fifo", "foreign-directory", "open-directory")


def _plant(path: Path, kind: str, outside: Path) -> None:
    """KIND at PATH (its parent made as root would): what another user could have left there."""
    import shutil

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    if kind == "link-to-directory":
        path.symlink_to(outside, target_is_directory=True)
    elif kind == "link-to-file":
        path.symlink_to(outside / "victim")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
        if kind == "foreign-directory":
            os.chown(path, 65534, 65534)
        elif kind == "open-directory":
            path.chmod(0o777)


@hostile_property
@given(target=st.sampled_from(TARGETS), depth=st.integers(min_value=0, max_value=8), kind=st.sampled_from(KINDS))
def test_whatever_lies_on_the_way_to_a_target_apply_refuses_by_name_or_installs_correctly(seed_cluster, tmp_path_factory, target, depth, kind):
    if os.geteuid() != 0:
        pytest.skip("the machine's files are root's")
    scratch = tmp_path_factory.mktemp("machine")
    machine = seed_cluster(scratch)
    root, state, outside = machine.root, machine.state, scratch / "outside"
    outside.mkdir()
    (outside / "victim").write_text("outside the root\n")
    parts = Path(target).parts
    planted = root.joinpath(*parts[: min(depth, len(parts) - 1) + 1])
    if kind.endswith("directory") and kind.startswith(("foreign", "open")) and planted == root / target:
        kind = "directory"  # the target itself is a file: a directory there of any owner is refused alike
    _plant(planted, kind, outside)
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    result = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before, "a write landed outside the root"
    assert sorted(p.name for p in outside.iterdir()) == ["victim"], "a file was created outside the root"
    assert "Traceback" not in result.stderr
    harmless = kind == "directory" and planted != root / target  # a root-owned directory on the way is what mkdir makes
    if harmless:
        assert result.returncode == 0, result.stdout + result.stderr
        return
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(planted) in result.stderr, (str(planted), result.stderr)
    assert not (state / "calls").exists() or "docker" not in (state / "calls").read_text()


def _apply(machine, *args: str):
    return machine.apply("node0", "--secrets", machine.pack("node0"), *args)


def test_a_fifo_at_fstab_or_at_the_record_ends_check_and_apply_cleanly(seed_cluster, tmp_path):
    machine = seed_cluster(tmp_path)
    root = machine.root
    assert _apply(machine).returncode == 0
    fstab = root / "etc/fstab"
    fstab.unlink()
    os.mkfifo(fstab)
    check = _apply(machine, "--check")  # once, this hung for ever
    assert check.returncode == 1 and f"drift: {fstab}: not a regular file" in check.stdout, check.stdout + check.stderr
    record = root / "var/lib/harborgen/harbor-ceph/node0.installed"
    record.unlink()
    os.mkfifo(record)
    applied = _apply(machine)
    assert applied.returncode == 1 and f"the install record {record} is a FIFO" in applied.stderr, applied.stderr


def test_two_applies_on_one_machine_never_run_at_once(seed_cluster, tmp_path):
    import fcntl

    machine = seed_cluster(tmp_path)
    root = machine.root
    assert _apply(machine).returncode == 0
    lock = root / "var/lib/harborgen/harbor-ceph/.apply.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = _apply(machine)
    assert second.returncode == 1 and "another apply.sh runs on this machine" in second.stderr, second.stderr
    assert _apply(machine).returncode == 0


def test_check_json_stays_json_whatever_a_path_holds(seed_cluster, tmp_path):
    """A never-applied machine under a root whose name holds a tab and a control character:
    every drift path carries them, and the report must still be JSON that audit reads."""
    machine = seed_cluster(tmp_path / "weird\tname\x01\x1b[2K")
    result = _apply(machine, "--check", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert any("\t" in entry["path"] and "\x1b" in entry["path"] for entry in report["drift"]), report
    assert RAW_CONTROL.search(result.stdout) is None, "raw control characters in the JSON text"


PACK_KINDS = ("link-to-file", "link-to-directory", "fifo", "directory", "extra-file")


@hostile_property
@given(index=st.integers(min_value=0, max_value=50), depth=st.integers(min_value=0, max_value=6), kind=st.sampled_from(PACK_KINDS))
def test_whatever_a_pack_holds_apply_installs_it_or_refuses_by_name(seed_cluster, tmp_path_factory, index, depth, kind):
    import shutil

    scratch = tmp_path_factory.mktemp("pack")
    machine = seed_cluster(scratch)
    pack = scratch / "pack"
    shutil.copytree(machine.pack("node0"), pack, symlinks=True)
    entries = sorted(str(path.relative_to(pack)) for path in pack.rglob("*") if path.is_file())
    parts = Path(entries[index % len(entries)]).parts
    planted = pack.joinpath(*parts[: min(depth, len(parts) - 1) + 1])
    outside = scratch / "outside"
    outside.mkdir()
    (outside / "victim").write_text("db_password = not-from-the-pack\n")
    if kind == "extra-file":
        planted = planted.parent / "planted.conf" if planted.is_file() else planted / "planted.conf"
        planted.write_text("[Service]\nExecStart=/bin/true\n")
    else:
        _plant(planted, kind, outside)
    result = machine.apply("node0", "--secrets", str(pack))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, (kind, str(planted), result.stdout + result.stderr)
    assert str(planted.relative_to(pack)) in result.stderr or str(planted) in result.stderr, result.stderr
    assert not (machine.installer / "harbor.cfg").read_text().startswith("db_password"), "installed what the pack linked to"


REPORT_KINDS = ("valid", "link", "fifo", "directory", "huge", "truncated", "empty")


@hostile_property
@given(kinds=st.lists(st.sampled_from(REPORT_KINDS), min_size=len(NODES), max_size=len(NODES)))
def test_whatever_the_reports_directory_holds_audit_shows_every_node_and_ends_cleanly(tmp_path_factory, kinds):
    directory = tmp_path_factory.mktemp("reports")
    outside = directory.parent / f"{directory.name}-outside.json"
    outside.write_text(json.dumps(_report("node0")))
    for node, kind in zip(NODES, kinds, strict=True):
        path = directory / f"{node}.json"
        text = json.dumps(_report(node))
        if kind == "valid":
            path.write_text(text)
        elif kind == "link":
            path.symlink_to(outside)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        elif kind == "huge":
            path.write_text(text + " " * (1 << 20))
        elif kind == "truncated":
            path.write_text(text[: len(text) // 2])
        else:
            path.write_text("")
    code, stdout, stderr = _audit(directory)
    assert "internal error" not in stderr and code in (0, 1, 2), stderr
    for node, kind in zip(NODES, kinds, strict=True):
        state = "up to date" if kind == "valid" else "unreadable report"
        assert re.search(rf"^{node} .* {state}", stdout, re.M), (node, kind, stdout)
    assert (code == 0) == all(kind == "valid" for kind in kinds)
