"""``ddss lineage``: how a batch asset partition was made, down to the bus offsets."""

import json

import typer

from ddss_platform.cli.app import app


@app.command()
def lineage(
    asset: str = typer.Argument(..., metavar="ASSET", help="Asset key, e.g. credit_score_aggregates_by_region_date."),
    partition: str = typer.Argument(
        None, metavar="PARTITION", help="Partition key, e.g. 2025-01-02 (omit for unpartitioned assets)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the recorded lineage as JSON."),
) -> None:
    """Print the lineage of the latest materialization of ASSET [PARTITION]: the run, the Spark application and
    code version, the inputs' data versions, and the archive rows per topic partition with their offsets and
    the score_events runs (or ddss stream) that wrote them. Reads the Dagster instance at DAGSTER_HOME (default:
    the embedded instance under DDSS_HOME)."""
    from ddss_platform.defs.dagster_instance import command_instance
    from ddss_platform.defs.lineage import format_lineage, read_lineage
    from ddss_platform.settings import Settings

    known = _asset_keys()
    if asset not in known:
        typer.echo(f"ddss lineage: no such asset {asset!r}; the assets are: {', '.join(sorted(known))}", err=True)
        raise typer.Exit(code=1)
    instance = command_instance(Settings.from_env())
    try:
        record = read_lineage(instance, asset, partition)
    except LookupError as error:
        typer.echo(f"ddss lineage: {error}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        instance.dispose()
    typer.echo(json.dumps(record, indent=2) if as_json else format_lineage(record))


def _asset_keys() -> set[str]:
    """Every asset key the definitions declare, as the UI spells it."""
    from ddss_platform.definitions import defs

    return {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
