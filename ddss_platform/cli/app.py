"""The ``ddss`` Typer app, and the one place where a command's operational errors become one line.

A malformed setting (``SettingsError``) or a store whose server cannot be reached (``StoreUnreachableError``)
ends any command with ``ddss: <setting>=<value or address>: <cause>`` on stderr and exit code 1: no
traceback, which would bury the line that matters, unless ``ddss --debug`` or ``DDSS_DEBUG=1`` asks for it.
Those also show librdkafka's own log lines, which are kept off the terminal otherwise.
"""

from __future__ import annotations

import logging

import click
import typer
from typer.core import TyperGroup

from ddss_platform.settings import SettingsError, debug_from_env
from ddss_platform.stores.reachability import StoreUnreachableError

OPERATIONAL_ERRORS = (SettingsError, StoreUnreachableError)


class _Commands(TyperGroup):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OPERATIONAL_ERRORS as error:
            if ctx.params.get("debug") or debug_from_env():
                raise
            typer.echo(f"ddss: {error}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Commands,
    name="ddss",
    help="ddss-platform: simulate, score and report citizen events (embedded or production profile).",
    no_args_is_help=True,
    add_completion=False,
    # click's plain help: it rewraps the docstrings' paragraphs to the terminal (rich help keeps each source line
    # break, mid-sentence) and shows no type for a flag (rich help gives every flag a `<bool>` metavar)
    rich_markup_mode=None,
    # a traceback's locals would show the settings, secrets included
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an error, and librdkafka's log lines (also DDSS_DEBUG=1)."
    ),
) -> None:
    if debug or debug_from_env():
        from ddss_platform.stores.bus.kafka import LIBRDKAFKA_LOG

        LIBRDKAFKA_LOG.addHandler(logging.StreamHandler())
        LIBRDKAFKA_LOG.setLevel(logging.DEBUG)


def check_stores(settings) -> None:
    """Open and close every store, so that one that cannot be reached fails the command before it starts
    servers or children that would each report it in their own way."""
    from ddss_platform.stores import open_stores

    with open_stores(settings):
        pass
