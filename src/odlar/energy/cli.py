"""`odlar energy ...`: the energy sector's own commands (fitting, predicting and benches
are the platform's generic commands). `odlar monitor` is kept as a top-level alias."""

from __future__ import annotations

from pathlib import Path

import typer

from odlar.core.versions import VERSION_HELP
from odlar.energy.production.cli import app as production_app
from odlar.governance.roles import Permission as P
from odlar.terminal import acting, console

app = typer.Typer(
    no_args_is_help=True,
    help="Energy: live monitoring of fault streams; production analytics of wells.",
)
app.add_typer(production_app, name="production")


@app.command()
def monitor(
    file: Path = typer.Argument(help="CSV of readings (header first); may still be growing"),
    stream: str | None = typer.Option(None, "--stream", help="Stream name (default: file name)"),
    model: int | None = typer.Option(
        None, "--model", help=VERSION_HELP
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep reading new rows"),
    batch: int = typer.Option(1000, "--batch", min=1, help="Rows scored per batch"),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="Seconds between reads (--follow)"),
) -> None:
    """Monitor a stream of readings with energy.faults: score every row, store alerts."""
    me = acting(P.OPERATE)
    from odlar.core.datasets import refuse_state
    from odlar.energy.faults.follow import follow_csv

    follow_csv(
        refuse_state(file),
        stream=stream or file.stem,
        model_version=model,
        follow=follow,
        batch=batch,
        poll=poll,
        echo=console.print,
        tenant=me.tenant,
        actor=me.name,
    )


#: Commands also mounted at the top level, as documented before sectors had their own group:
#: `odlar monitor` is `odlar energy monitor`.
TOP_LEVEL = {"monitor": monitor}
