"""`odlar tiny ...`: the sector's own commands."""

import typer

from odlar.governance.roles import Permission
from odlar.terminal import acting, console

app = typer.Typer(no_args_is_help=True, help="Tiny example sector.")


@app.command()
def hello() -> None:
    """Greet the user running the command."""
    me = acting(Permission.READ)
    console.print(f"hello {me.name} from the tiny sector")
