import typer

app = typer.Typer(
    name="ddss",
    help="ddss-platform: simulate, score and report citizen events (embedded or production profile).",
    no_args_is_help=True,
    add_completion=False,
)
