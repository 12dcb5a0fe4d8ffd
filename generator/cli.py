"""The command line: a thin click group; each command reads as the pipeline it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import DriftError, HarborgenError, exit_code_for
from .pipeline import compile_cluster, load_cluster
from .writer import compare, write_tree

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
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Compile a Harbor cluster topology into one bundle per machine."""
    context.obj = {"debug": debug}


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
def check_command(topology: Path, out_dir: Path) -> None:
    """Exit 1 when OUT/<cluster>/ differs from a fresh render of TOPOLOGY."""
    cluster = load_cluster(topology)
    drift = compare(compile_cluster(cluster), out_dir / cluster.name)
    if not drift.clean:
        raise DriftError(
            "\n".join(f"{line}" for line in drift.report())
            + f"\n{out_dir / cluster.name} does not match {topology}: run 'harborgen render {topology}'"
        )
    click.echo(f"{out_dir / cluster.name}: up to date with {topology}")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the only place where failures become exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="harborgen", standalone_mode=False)
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
    except OSError as error:
        if debug:
            raise
        click.echo(f"harborgen: {error}", err=True)
        sys.exit(4)
    sys.exit(0)
