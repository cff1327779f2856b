"""The ``civicpass`` command: thin commands over the services. Exit codes are mapped here, once."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from civicpass.bootstrap import Container, build, migrate
from civicpass.domain import errors as e
from civicpass.domain.staff import Role
from civicpass.services import demo, staff
from civicpass.services.regions import load_regions
from civicpass.settings import Settings

app = typer.Typer(help="civicpass: health code and citizen code platform", no_args_is_help=True)
regions_app = typer.Typer(help="GB/T 2260 administrative divisions")
app.add_typer(regions_app, name="regions")
console = Console()
err = Console(stderr=True)

EXIT_CODES: list[tuple[type[e.CivicpassError], int]] = [
    (e.InvalidInput, 2),
    (e.NotAuthenticated, 3),
    (e.PermissionDenied, 3),
    (e.NotFound, 4),
    (e.Conflict, 5),
    (e.CivicpassError, 1),
]


@contextmanager
def _container() -> Iterator[Container]:
    """Build the container from the environment, mapping failures to messages and exit codes."""
    try:
        settings = Settings()
    except ValidationError as exc:
        err.print(f"[red]configuration error[/red]: {exc}")
        raise typer.Exit(2) from None
    container = build(settings)
    try:
        yield container
    except e.CivicpassError as exc:
        err.print(f"[red]{exc.reason}[/red]: {exc.message.en} / {exc.message.zh}")
        for fe in exc.errors:
            err.print(f"  {fe.as_dict()['path']}: {fe.message}")
        raise typer.Exit(next(code for cls, code in EXIT_CODES if isinstance(exc, cls))) from None
    finally:
        container.dispose()


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema and load the bundled regions and forms."""
    with _container() as c:
        migrate(c)
        console.print(f"database ready: {c.engine.url.render_as_string(hide_password=True)}")


@app.command("seed-demo")
def seed_demo(residents: Annotated[int | None, typer.Option(help="residents to create")] = None) -> None:
    """Fill the database with a synthetic demo city (idempotent) and print the staff accounts."""
    with _container() as c:
        migrate(c)
        report = demo.seed_demo_city(c.deps, residents or c.settings.demo_residents, c.keys.demo_secret)
        _print_demo(report)


def _print_demo(report: demo.DemoReport) -> None:
    verb = "created" if report.created else "already present"
    console.print(
        f"demo city {verb}: {report.residents} residents ({report.dependents} dependents), {report.venues} venues"
    )
    table = Table(title="demo staff accounts (development only)")
    for column in ("role", "username", "password"):
        table.add_column(column)
    for account in report.staff:
        table.add_row(account.role.value, account.username, account.password)
    console.print(table)


@app.command("create-staff")
def create_staff(
    username: str,
    role: Annotated[Role, typer.Option(help="the account's role")],
    jurisdiction: Annotated[str, typer.Option(help="GB/T 2260 code of the region the account may act in")],
    display_name: Annotated[str, typer.Option(help="shown in the console")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="CIVICPASS_NEW_STAFF_PASSWORD"
        ),
    ] = "",
) -> None:
    """Create a staff account (the operator's own command on the server)."""
    with _container() as c:
        member = staff.create_staff(
            c.deps, None, staff.NewStaff(username, password, role, jurisdiction, display_name)
        )
        console.print(f"created {member.username} ({member.role.value}, jurisdiction {member.jurisdiction})")


@regions_app.command("load")
def regions_load(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: code,parent,level,name_zh,name_en")
    ],
) -> None:
    """Load a full GB/T 2260 division list (for example down to every county) from a CSV file."""
    from civicpass.adapters.files import read_regions

    with _container() as c:
        written = load_regions(c.deps, read_regions(path))
        console.print(f"{written} regions added or changed")


@app.command("serve")
def serve(
    seed: Annotated[bool, typer.Option(help="migrate and seed the demo city first (development)")] = False,
) -> None:
    """Serve the API (and, with --seed, prepare a demo database first)."""
    import uvicorn

    from civicpass.web.app import create_app

    with _container() as c:
        migrate(c)
        if seed:
            if c.settings.environment == "production":
                err.print("[red]--seed is for development only[/red]")
                raise typer.Exit(2)
            _print_demo(demo.seed_demo_city(c.deps, c.settings.demo_residents, c.keys.demo_secret))
        console.print(
            f"civicpass on http://{c.settings.host}:{c.settings.port}  (docs at /docs, health at /health)"
        )
        if c.settings.workers > 1:
            uvicorn.run(
                "civicpass.web.app:app_from_environment",
                factory=True,
                host=c.settings.host,
                port=c.settings.port,
                workers=c.settings.workers,
            )
        else:
            uvicorn.run(create_app(container=c), host=c.settings.host, port=c.settings.port)


def main(argv: list[str] | None = None) -> None:
    command: Callable[..., object] = app
    command(args=argv if argv is not None else sys.argv[1:])
