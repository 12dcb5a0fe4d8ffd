"""The command line: a thin click group; each command reads as the pipeline it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import DriftError, HarborgenError, InputError, InternalError, LintFindings, OutputError, UsageError, exit_code_for
from .pipeline import compile_cluster, load_checked, load_checked_text, load_cluster, secrets_needed
from .writer import WriteResult, compare, refuse_foreign, write_tree

DEFAULT_OUT = Path("out")

topology_argument = click.argument(
    "topology", type=click.Path(dir_okay=False, path_type=Path)
)
out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT,
    show_default=True, help="Directory that holds <cluster>/<node>/ bundles.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harborgen")
@click.option("--debug", is_flag=True, help="Show a traceback on failure.")
def cli(debug: bool) -> None:
    """Compile a Harbor cluster topology into one bundle per machine."""
    # --debug is read by main(), which owns the mapping of failures to exit codes.


@cli.command("validate")
@topology_argument
def validate_command(topology: Path) -> None:
    """Check TOPOLOGY; report every problem with its file, line and column."""
    cluster = load_cluster(topology)
    click.echo(f"{topology}: valid (cluster {cluster.name}, {len(cluster.nodes)} nodes)")


@cli.command("render")
@topology_argument
@out_option
def render_command(topology: Path, out_dir: Path) -> None:
    """Compile TOPOLOGY into OUT/<cluster>/, writing only what changed."""
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    result = write_tree(tree, out_dir / cluster.name)
    _report_leftovers(result)
    for path in result.written:
        click.echo(f"wrote {out_dir / cluster.name / path}")
    for path in result.removed:
        click.echo(f"removed {out_dir / cluster.name / path}")
    click.echo(
        f"{cluster.name}: {len(result.written)} written, {len(result.removed)} removed, {result.unchanged} unchanged"
    )


@cli.command("check")
@topology_argument
@out_option
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff of every stale or hand-edited file.")
def check_command(topology: Path, out_dir: Path, show_diff: bool) -> None:
    """Exit 1 when OUT/<cluster>/ differs from a fresh render of TOPOLOGY."""
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    drift = compare(tree, out_dir / cluster.name)
    if not drift.clean:
        diffs = _drift_diffs(tree, out_dir / cluster.name, drift.stale + drift.edited) if show_diff else []
        raise DriftError(
            "\n".join([*drift.report(), *diffs])
            + f"\n{out_dir / cluster.name} does not match {topology}: run 'harborgen render {topology}'"
        )
    click.echo(f"{out_dir / cluster.name}: up to date with {topology}")


@cli.command("lint")
@click.argument("topology", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="text for people, json for tools (schema/lint-report.schema.json), github for workflow annotations.")
@click.option("--list-rules", is_flag=True, help="Print the catalogue of rules and exit.")
def lint_command(topology: Path | None, output_format: str, list_rules: bool) -> None:
    """Name every single point of failure and weak spot of TOPOLOGY; exit 1 on an error it does not accept."""
    from .lint.report import FORMATTERS, catalogue
    from .lint.run import counts, run_lint

    if list_rules:
        click.echo(catalogue(), nl=False)
        return
    if topology is None:
        raise UsageError("lint needs a TOPOLOGY (or --list-rules)")
    checked = load_checked(topology)
    results = run_lint(checked)
    click.echo(FORMATTERS[output_format](str(topology), results), nl=False)
    if counts(results)["error"]:
        raise LintFindings(f"{topology}: {counts(results)['error']} error(s) the topology does not accept")


@cli.command("diff")
@click.argument("base")
@click.argument("new")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text for a terminal, markdown for a PR comment, json for tools (schema/diff-report.schema.json).")
@click.option("--unfold", is_flag=True, help="Show the unified diffs of scripts and the RUNBOOK (text format).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything changes, as git diff --exit-code.")
def diff_command(base: str, new: str, output_format: str, unfold: bool, exit_code: bool) -> None:
    """What changes in every bundle from BASE to NEW, and the plan to apply it. Each is a file or REF:PATH."""
    from .review.diff import diff_trees
    from .review.report import FORMATTERS
    from .review.revisions import read_topology

    base_raw, new_raw = read_topology(base), read_topology(new)
    base_checked = load_checked_text(base_raw, base)
    base_side = (base_checked.cluster, compile_cluster(base_checked.cluster))
    new_checked = base_checked
    if new_raw == base_raw:  # the same document: one compile, and nothing to tell
        new_side = base_side
    else:
        new_checked = load_checked_text(new_raw, new)
        new_side = (new_checked.cluster, compile_cluster(new_checked.cluster))
    accepts = tuple(checked.document.get("lint", {}).get("accept", []) for checked in (base_checked, new_checked))
    report = diff_trees(base, base_side, new, new_side, accepts)
    if output_format == "text":
        click.echo(FORMATTERS["text"](report, unfold=unfold, color=sys.stdout.isatty()), nl=False)
    else:
        click.echo(FORMATTERS[output_format](report), nl=False)
    if exit_code and not report.empty:
        raise click.exceptions.Exit(1)


def _drift_diffs(tree, cluster_dir: Path, paths: tuple[str, ...]) -> list[str]:
    """What each drifted file holds on disk against what the topology renders, as unified diffs."""
    import difflib

    from .secrets.placeholders import placeholders_in
    from .writer import read_regular

    lines = []
    for path in paths:
        if tree[path].secret or placeholders_in(tree[path].content):
            lines.append(f"{path}: differs, and holds a secret: not shown (compare it on the machine, or render again)")
            continue
        on_disk = (read_regular(cluster_dir / path) or b"").decode("utf-8", errors="replace").splitlines()
        rendered = tree[path].content.decode("utf-8").splitlines()
        lines += difflib.unified_diff(on_disk, rendered, f"{path} (on disk)", f"{path} (rendered)", lineterm="")
    return lines


@cli.command("audit")
@topology_argument
@click.option("--reports", "reports_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A directory of the nodes' reports: the output of 'apply.sh --check --format json', one *.json per node.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def audit_command(topology: Path, reports_dir: Path, output_format: str) -> None:
    """One table: does each node hold what Git says? Exit 1 when a node drifts, is behind or did not report."""
    from .audit import FORMATTERS, audit, read_reports

    cluster = load_cluster(topology)
    names = [node.name for node in cluster.nodes]
    reports, unreadable, problems = read_reports(reports_dir, cluster.name, set(names))
    rows = audit(compile_cluster(cluster), names, reports, unreadable)
    click.echo(FORMATTERS[output_format](rows), nl=False)
    if problems:  # after the table: one bad report hides no other node
        raise InputError(problems)
    if not all(row.healthy for row in rows):
        raise DriftError(f"{reports_dir}: {sum(not row.healthy for row in rows)} node(s) do not hold what {topology} says")


secrets_option = click.option(
    "--secrets", "secrets_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The secrets file: a flat YAML mapping from secret name to value, kept out of Git.",
)


@cli.group("secrets")
def secrets_group() -> None:
    """Create and check the values that replace the placeholders."""


@secrets_group.command("generate")
@topology_argument
@secrets_option
def secrets_generate_command(topology: Path, secrets_file: Path) -> None:
    """Add every missing secret TOPOLOGY needs to FILE; never change an existing one."""
    from .secrets.file import add_secrets, how_to_obtain, read_secrets, secrets_file_problems
    from .secrets.generate import generate_missing
    from .targets import target_of

    cluster = load_cluster(topology)
    needed = secrets_needed(cluster, compile_cluster(cluster))
    problems = secrets_file_problems(secrets_file)
    if problems:
        raise InputError(problems)
    read = read_secrets(secrets_file) if secrets_file.exists() or secrets_file.is_symlink() else None
    existing = read.values if read else {}
    added, impossible = generate_missing(
        needed, existing, cluster_name=cluster.name, cephx_name=cluster.cephfs.key.name, managed=target_of(cluster).managed_secrets
    )
    if added:
        add_secrets(secrets_file, added, cluster.name, read.raw if read else None)
    for name in sorted(added):
        click.echo(f"added {name}")
    click.echo(f"{secrets_file}: {len(added)} added, {len(existing)} kept as they were")
    for name in impossible:
        click.echo(f"missing {name}: harborgen cannot make it: {how_to_obtain(cluster, name)} in {secrets_file}", err=True)


@secrets_group.command("check")
@topology_argument
@secrets_option
def secrets_check_command(topology: Path, secrets_file: Path) -> None:
    """Exit 2 unless every secret TOPOLOGY needs is in FILE and legal wherever it lands."""

    cluster = load_cluster(topology)
    needed = secrets_needed(cluster, compile_cluster(cluster))
    _check_secrets_or_fail(cluster, needed, secrets_file)
    click.echo(f"{secrets_file}: all {len(needed)} secrets present and legal in every file they land in")


def _check_secrets_or_fail(cluster, needed, secrets_file: Path):
    """The values of the secrets file, once it passed the file policy and every legality rule."""
    # Imported here: only the commands that touch secrets pay for these modules.
    from .secrets.file import check_secrets, read_secrets, secrets_file_problems

    problems = secrets_file_problems(secrets_file)
    if problems:
        raise InputError(problems)  # before reading a byte of a file that others can read or Git would take
    secrets = read_secrets(secrets_file)
    problems = check_secrets(cluster, needed, secrets)
    if problems:
        raise InputError(problems)
    return secrets


@secrets_group.command("pack")
@topology_argument
@secrets_option
@click.option("--node", "nodes", multiple=True, help="A node to pack for (repeatable); default: every node.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The pack directory (with --node once), else the directory that gets one pack per node.")
def secrets_pack_command(topology: Path, secrets_file: Path, nodes: tuple[str, ...], out_dir: Path) -> None:
    """Write the secrets pack of each node: only the secrets its bundle uses, filled into its files."""
    from .secrets.packs import node_pack, pack_of

    _refuse_committed_directory(topology, out_dir)
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    known = [node.name for node in cluster.nodes]
    unknown = [name for name in nodes if name not in known]
    if unknown:
        raise UsageError(f"no node {', '.join(map(repr, unknown))} in {topology} (expected one of: {', '.join(known)})")
    chosen = list(nodes) or known
    their_files = {path: artifact for path, artifact in tree.items() if path.partition("/")[0] in chosen}
    secrets = _check_secrets_or_fail(cluster, secrets_needed(cluster, their_files), secrets_file)
    packs = {name: (out_dir if len(nodes) == 1 else out_dir / name, node_pack(tree, cluster.name, name, secrets.values))
             for name in chosen}
    for name, (target, pack) in packs.items():  # every pack refused or none: no half-written set
        refuse_foreign(pack, target, pack_of(cluster.name, name))
    for name, (target, pack) in packs.items():
        result = write_tree(pack, target, private=True, ownership=pack_of(cluster.name, name))
        _report_leftovers(result)
        click.echo(f"{target}: secrets pack of {name}, {len(pack) - 1} filled file(s), {len(result.written)} written")


@cli.command("materialize")
@topology_argument
@secrets_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the filled bundles go; never the committed render directory.")
def materialize_command(topology: Path, secrets_file: Path, out_dir: Path) -> None:
    """Write TOPOLOGY's bundles with every secret filled in, files that hold one 0600."""
    from .secrets.packs import materialize

    _refuse_committed_directory(topology, out_dir)
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    secrets = _check_secrets_or_fail(cluster, secrets_needed(cluster, tree), secrets_file)
    result = write_tree(materialize(tree, secrets.values), out_dir / cluster.name, private=True)
    _report_leftovers(result)
    click.echo(f"{out_dir / cluster.name}: {len(result.written)} written, {len(result.removed)} removed, {result.unchanged} unchanged")


def _report_leftovers(result: WriteResult) -> None:
    for leftover in result.cleaned:
        click.echo(f"removed {leftover}, left by an interrupted run")


def _refuse_committed_directory(topology: Path, out_dir: Path) -> None:
    from .secrets.file import git_work_tree

    target = out_dir.resolve()
    committed = {DEFAULT_OUT.resolve(), (topology.parent / DEFAULT_OUT).resolve()}
    inside_git = git_work_tree(target)
    if target in committed or inside_git:
        where = f"the committed render directory {out_dir}" if target in committed else f"the Git work tree {inside_git}"
        raise UsageError(f"this writes secrets: refusing to write into {where} (choose a directory outside Git)")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the only place where failures become exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        returned = cli.main(args=argv, prog_name="harborgen", standalone_mode=False)
        if isinstance(returned, int) and returned:  # click hands back the code of an Exit raised in a command
            sys.exit(returned)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except HarborgenError as error:
        if debug:
            raise
        click.echo(str(error), err=True)
        sys.exit(exit_code_for(error))
    except OSError as error:  # an I/O failure no stage turned into an OutputError
        if debug:
            raise
        click.echo(f"harborgen: {error}", err=True)
        sys.exit(exit_code_for(OutputError(str(error))))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # a bug: still one sentence, never a traceback unless asked for
        if debug:
            raise
        click.echo(f"harborgen: internal error: {type(error).__name__}: {error} (run with --debug for a traceback)", err=True)
        sys.exit(exit_code_for(InternalError(str(error))))
    sys.exit(0)
