"""The ``civicpass`` command: thin commands over the services. Exit codes are mapped here, once."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civicpass.adapters.codes import verify_with_trust_list
from civicpass.bootstrap import Container, build, migrate
from civicpass.domain import errors as e
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.staff import Role
from civicpass.services import codes, demo, rulesets, simulation, staff, trust
from civicpass.services import status as status_service
from civicpass.services.ports import NoteKeys
from civicpass.services.regions import load_regions
from civicpass.settings import Settings

app = typer.Typer(help="civicpass: health code and citizen code platform", no_args_is_help=True)
regions_app = typer.Typer(help="GB/T 2260 administrative divisions")
app.add_typer(regions_app, name="regions")
rules_app = typer.Typer(help="rule sets: list, export, propose and approve (dual control)")
app.add_typer(rules_app, name="rules")
status_app = typer.Typer(help="resident statuses: re-evaluate under the active rule set")
app.add_typer(status_app, name="status")
keys_app = typer.Typer(help="code-signing keys: list, rotate, revoke")
app.add_typer(keys_app, name="keys")
trust_app = typer.Typer(help="the signed trust list of this instance's issuer keys")
app.add_typer(trust_app, name="trust-list")
codes_app = typer.Typer(help="health codes (server-side administration)")
app.add_typer(codes_app, name="codes")
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


@app.command("simulate")
def simulate(
    residents: Annotated[int, typer.Option(min=1, help="residents to create")] = 10_000,
    venues: Annotated[int, typer.Option(min=2, help="venues and buses (every tenth is a bus)")] = 500,
    days: Annotated[int, typer.Option(min=1, max=60, help="days of check-ins, ending now")] = 14,
    seed: Annotated[int, typer.Option(help="the random seed: a seed gives the same city")] = 2022,
    outbreaks: Annotated[int, typer.Option(min=0, help="index residents who test positive today")] = 3,
) -> None:
    """Generate a synthetic city: residents, venues, daily check-in routines and seeded outbreaks."""
    with _container() as c:
        migrate(c)
        started = time.perf_counter()
        report = simulation.simulate(c.deps, simulation.Plan(residents, venues, days, seed, outbreaks))
        console.print(
            f"simulated {report.residents} residents, {report.venues} venues, {report.checkins} check-ins over "
            f"{report.days} days, {len(report.cases)} cases opened, in {time.perf_counter() - started:.1f} s"
        )
        for case_id in report.cases:
            console.print(f"  case {case_id}")


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


def _progress_bar(title: str) -> tuple[Progress, Callable[[int, int], None]]:
    progress = Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(title, total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, advance


AsStaff = Annotated[str, typer.Option("--as", help="the staff member acting (their password is asked for)")]
StaffPassword = Annotated[
    str,
    typer.Option(
        prompt=True, hide_input=True, envvar="CIVICPASS_STAFF_PASSWORD", help="that member's password"
    ),
]


def _acting(c: Container, username: str, password: str) -> StaffActor:
    """Who is acting, proven by their own password: the CLI keeps dual control as the API does."""
    member = staff.sign_in(c.deps, username, password).member
    return StaffActor(member.id, member.role, member.jurisdiction)


@rules_app.command("list")
def rules_list() -> None:
    """Every rule-set version with its state, proposer and approver."""
    with _container() as c, c.deps.uow() as uow:
        table = Table(title="rule sets")
        for column in ("version", "state", "identifier", "rules", "proposed by", "approved by"):
            table.add_column(column)
        for v in uow.rulesets.all():
            table.add_row(
                str(v.version),
                v.state.value,
                v.ruleset.identifier,
                str(len(v.ruleset.rules)),
                v.proposed_by or "(bundled)",
                v.approved_by or "(bundled)",
            )
        console.print(table)


@rules_app.command("export")
def rules_export(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the signed active rule set")],
) -> None:
    """Write the active rule set with its signature and public key (verifiable offline)."""
    with _container() as c:
        published = rulesets.published(c.deps)
        document = {
            "signed": rulesets.signed_part(published.version),
            "signature": published.version.signature,
            "key_id": published.key_id,
            "public_key": published.public_key,
        }
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        console.print(f"rule set version {published.version.version} written to {path}")


@rules_app.command("propose")
def rules_propose(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="rule-set document (JSON)")],
    as_: AsStaff,
    password: StaffPassword = "",
) -> None:
    """Propose a new rule-set version; it needs another authorised member's approval to take effect."""
    with _container() as c:
        proposal = rulesets.propose(
            c.deps, _acting(c, as_, password), json.loads(path.read_text(encoding="utf-8"))
        )
        console.print(f"proposed rule set version {proposal.version} ({len(proposal.ruleset.rules)} rules)")


@rules_app.command("approve")
def rules_approve(
    version: Annotated[int, typer.Argument(min=1, help="the proposed version")],
    as_: AsStaff,
    password: StaffPassword = "",
) -> None:
    """Approve (as someone other than the proposer), activate, and re-evaluate every resident."""
    with _container() as c:
        actor = _acting(c, as_, password)
        progress, advance = _progress_bar("re-evaluating residents")
        with progress:
            activated, evaluated = rulesets.approve(c.deps, actor, version, advance)
        console.print(f"rule set version {activated.version} is active; {evaluated} residents re-evaluated")


@status_app.command("recompute")
def status_recompute() -> None:
    """Re-evaluate every resident under the active rule set, in batches, with a progress bar."""
    with _container() as c:
        progress, advance = _progress_bar("re-evaluating residents")
        with progress:
            evaluated = status_service.recompute_everyone(c.deps, advance)
        console.print(f"{evaluated} residents re-evaluated")


@status_app.command("sweep")
def status_sweep() -> None:
    """Re-evaluate the residents whose status is due for review (windows passing, facts expiring)."""
    with _container() as c:
        console.print(f"{status_service.sweep(c.deps)} statuses reviewed")


@keys_app.command("list")
def keys_list() -> None:
    """Every code-signing key with its state and validity."""
    with _container() as c:
        table = Table(title="code-signing keys")
        for column in ("kid", "alg", "status", "not before", "not after"):
            table.add_column(column)
        for key in c.deps.keystore.issuer_keys():
            table.add_row(
                key.kid,
                key.alg,
                key.status.value,
                key.not_before.isoformat(),
                key.not_after.isoformat() if key.not_after else "-",
            )
        console.print(table)


@keys_app.command("rotate")
def keys_rotate(alg: Annotated[str, typer.Option(help="EdDSA (Ed25519) or ES256 (P-256)")] = "EdDSA") -> None:
    """Make a new active key; the old one retires and verifies its codes until they can have expired."""
    if alg not in ("EdDSA", "ES256"):
        err.print("[red]--alg must be EdDSA or ES256[/red]")
        raise typer.Exit(2)
    with _container() as c:
        key = codes.rotate_key(c.deps, alg)
        console.print(f"new active key {key.kid} ({key.alg})")


@keys_app.command("revoke")
def keys_revoke(kid: Annotated[str, typer.Argument(help="the key id (hex) to revoke")]) -> None:
    """Revoke a compromised key: refused online at once, offline after verifiers refresh the trust list."""
    with _container() as c:
        key = codes.revoke_key(c.deps, kid)
        console.print(f"key {key.kid} revoked")


@trust_app.command("export")
def trust_list_export(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the signed trust list")],
) -> None:
    """Write the signed trust list, for verifiers that work offline."""
    with _container() as c:
        signed = trust.signed_trust_list(c.deps)
        path.write_text(json.dumps(signed, ensure_ascii=False, indent=1), encoding="utf-8")
        console.print(f"trust list version {signed['trust_list']['version']} written to {path}")


@app.command("verify")
def verify(
    token: Annotated[str, typer.Argument(help="the code text (CP1:...)")],
    trust_list: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="a signed trust list file")],
    at: Annotated[str | None, typer.Option(help="verify as of this ISO 8601 time (default: now)")] = None,
    signer_key: Annotated[
        str | None, typer.Option(help="pin the trust list's signing key (base64url Ed25519)")
    ] = None,
    skew: Annotated[int, typer.Option(help="tolerated clock skew in seconds")] = 30,
) -> None:
    """Verify a code offline against a trust list and print the result as JSON (exit 1 if invalid).

    Needs nothing but the two inputs: no database, no network.
    """
    signed = json.loads(trust_list.read_text(encoding="utf-8"))
    result = verify_with_trust_list(token, signed, at, signer_key, skew)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if not result["valid"]:
        raise typer.Exit(1)


@codes_app.command("issue")
def codes_issue(
    resident_id: Annotated[str, typer.Argument(help="the resident's id")],
    offline_days: Annotated[
        int | None, typer.Option(min=1, max=7, help="issue a printable offline code")
    ] = None,
) -> None:
    """Issue a code for a resident (server-side administration) and print it."""
    with _container() as c:
        issued = codes.issue(c.deps, ResidentActor(resident_id), resident_id, offline_days=offline_days)
        print(issued.token)


@app.command("serve")
def serve(
    seed: Annotated[bool, typer.Option(help="migrate and seed the demo city first (development)")] = False,
) -> None:
    """Serve the API (and, with --seed, prepare a demo database first)."""
    import uvicorn

    from civicpass.web.app import create_app, log_to_stderr

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
                access_log=c.settings.access_log,
            )
        else:
            log_to_stderr()
            uvicorn.run(
                create_app(container=c),
                host=c.settings.host,
                port=c.settings.port,
                access_log=c.settings.access_log,
            )


checkins_app = typer.Typer(help="check-in storage: daily partitions, retention, Parquet exports")
app.add_typer(checkins_app, name="checkins")


@checkins_app.command("maintain")
def checkins_maintain() -> None:
    """Make the daily partitions of yesterday .. a week ahead and purge check-ins past retention."""
    from civicpass.adapters.db.partitions import SqlCheckinStorage
    from civicpass.services import maintenance

    with _container() as c:
        done = maintenance.maintain(c.deps, SqlCheckinStorage(c.engine))
        created = ", ".join(done.partitions_created) or "none"
        console.print(f"partitions created: {created}")
        console.print(
            f"purged {done.purge.rows} check-ins before {done.purge.cutoff.isoformat()}"
            f" ({len(done.purge.partitions_dropped)} partitions dropped)"
        )


@checkins_app.command("export")
def checkins_export(
    day: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="the UTC day (default: yesterday)")
    ] = None,
    out: Annotated[Path | None, typer.Option(file_okay=False, help="default: DATA_DIR/exports")] = None,
) -> None:
    """Write one day's check-ins as Parquet with a manifest (rows, bytes, SHA-256), for analytics."""
    from civicpass.adapters.exports import day_dir, export_day

    with _container() as c:
        now = c.deps.clock.now()
        chosen = day.date() if day else (now - timedelta(days=1)).astimezone(UTC).date()
        out_dir = out or c.settings.data_dir / "exports"
        manifest = export_day(c.engine, chosen, out_dir, exported_at=now)
        console.print(
            f"{manifest.rows} check-ins of {manifest.day} written to {day_dir(out_dir, chosen)}"
            f" ({manifest.bytes} bytes, sha256 {manifest.sha256})"
        )


feeds_app = typer.Typer(help="signed data feeds: register sources, import signed batch files")
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add-source")
def feeds_add_source(
    name: str,
    kind: Annotated[str, typer.Option(help="lab, hospital, vaccination_registry or travel")],
    public_key: Annotated[str, typer.Option(help="the source's Ed25519 public key, unpadded base64url")],
    region: Annotated[str, typer.Option(help="GB/T 2260 code of the source's region")] = "440100",
) -> None:
    """Register a data-source system; prints the source id it signs its batches for."""
    from civicpass.services import feeds

    with _container() as c:
        source = feeds.register_source(c.deps, None, feeds.NewSource(name, kind, public_key, region))
        console.print(f"source {source.id} ({source.kind.value}) registered: {source.name}")


@feeds_app.command("import")
def feeds_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines (.jsonl) or CSV (.csv)")
    ],
    source: Annotated[str, typer.Option(help="the source id")],
    batch_id: Annotated[str, typer.Option(help="the batch id the file was signed with")],
    signature: Annotated[str, typer.Option(help="the source's signature (docs/formats/feeds.md)")],
) -> None:
    """Import a signed batch file as the HTTP route would (large files without the upload)."""
    from civicpass.services import feeds

    media_type = "text/csv" if file.suffix.lower() == ".csv" else "application/jsonl"
    with _container() as c:
        report = feeds.import_batch(c.deps, source, batch_id, file.read_bytes(), media_type, signature)
        console.print(json.dumps({k: v for k, v in report.items() if k != "rejections"}))
        for rejection in report["rejections"][:20]:
            console.print(f"  line {rejection['line']}: {rejection['errors']}")


audit_app = typer.Typer(help="the transparency log: verify, export, tail, witness, keys")
app.add_typer(audit_app, name="audit")


def _audit_source(log: str) -> tuple[Any, str | None]:
    from civicpass.adapters.log_files import DirSource, HttpSource

    if log.startswith(("http://", "https://")):
        import httpx2

        source = HttpSource(httpx2.Client(base_url=log.rstrip("/"), timeout=30))
        return source, None
    source_dir = DirSource(Path(log))
    return source_dir, source_dir.key()


def _notes(c: Container) -> NoteKeys:
    if c.deps.notes is None:  # bootstrap always sets them; a container built otherwise has no log keys
        console.print("[red]this instance has no log keys[/red]")
        raise typer.Exit(2)
    return c.deps.notes


@audit_app.command("verify")
def audit_verify(
    log: Annotated[str, typer.Option(help="an instance's URL, or a directory from `audit export`")],
    key: Annotated[
        str | None,
        typer.Option(help="the log's verifier key (default: the export's, or asked of the server)"),
    ] = None,
    leaves: Annotated[
        bool, typer.Option("--leaves", help="also check every leaf and stored subtree")
    ] = False,
) -> None:
    """Check every checkpoint's signature, their consistency and (--leaves) every leaf; exit 1 on failure."""
    from civicpass.adapters.crypto.notes import Ed25519NoteKeys
    from civicpass.domain.notes import VerifierKey
    from civicpass.services import audit

    source, exported_key = _audit_source(log)
    text = key or exported_key
    if text is None:
        text = source.key()
    if key is None:  # a key from the source being checked proves only that it is self-consistent
        console.print(
            f"[yellow]trusting the key the log itself names: {text} (pass --key to pin it)[/yellow]"
        )
    verifier = VerifierKey.parse(text)
    report = audit.verify(source, verifier, Ed25519NoteKeys(bytes(32), "-", "-"), with_leaves=leaves)
    summary = f"{report.checkpoints} checkpoints, size {report.size}, {report.leaves} leaves, {report.nodes} subtrees"
    if not report.ok:
        where = f" (first bad index {report.bad_index})" if report.bad_index is not None else ""
        console.print(f"[red]FAIL[/red]{where}: {report.failure}")
        raise typer.Exit(1)
    console.print(f"OK: {summary} verified against {verifier.name}")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Argument(file_okay=False, help="the directory to write")],
) -> None:
    """Write the log as stored (leaves, subtree hashes, checkpoints, key) for offline audit."""
    from civicpass.adapters.log_files import export_log

    with _container() as c:
        count = export_log(c.engine, _notes(c).note_key.encode(), out)
        console.print(f"{count} leaves written to {out}")


@audit_app.command("tail")
def audit_tail(
    count: Annotated[int, typer.Option("-n", min=1, max=1000, help="how many leaves")] = 20,
) -> None:
    """The last leaves of this instance's log, newest last."""
    from civicpass.services import transparency

    with _container() as c:
        size = transparency.head(c.deps).size
        for leaf in transparency.leaves(c.deps, max(0, size - count), size) if size else []:
            console.print(
                f"{leaf.index:>8}  {leaf.at.isoformat()}  {leaf.name}  {leaf.data}",
                markup=False,
                highlight=False,
            )


@audit_app.command("keys")
def audit_keys() -> None:
    """This instance's log note key and witness key (give the witness key to the logs you witness)."""
    with _container() as c:
        notes = _notes(c)
        console.print(f"log key:     {notes.note_key.encode()}", markup=False)
        console.print(f"witness key: {notes.witness_key.encode()}", markup=False)


@audit_app.command("witness")
def audit_witness(
    log: Annotated[str, typer.Option(help="the URL of the instance whose log to witness")],
    key: Annotated[str, typer.Option(help="that log's verifier key")],
) -> None:
    """Witness another log once: verify, check consistency, cosign (exit 1 on any alarm)."""
    from civicpass.adapters.federation import HttpLogClient
    from civicpass.domain.notes import VerifierKey
    from civicpass.services import witness

    with _container() as c:
        seen = witness.observe(c.deps, HttpLogClient(log), VerifierKey.parse(key))
        console.print(f"cosigned {seen.origin} at size {seen.size} (before: {seen.previous})")


@app.command("shutdown-epidemic")
def shutdown_epidemic(
    out: Annotated[Path, typer.Option(dir_okay=False, help="where to write the aggregate statistics (JSON)")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm: personal data is deleted for good")] = False,
) -> None:
    """End of the epidemic: keep aggregate statistics, delete all personal data, destroy the PII keys held
    here, and append a signed deletion record to the transparency log (which still verifies)."""
    from civicpass.adapters.secrets import destroy_dev_pii_keys
    from civicpass.services import privacy

    if not yes:
        console.print("[red]this deletes all personal data for good; run again with --yes[/red]")
        raise typer.Exit(2)
    with _container() as c:
        destroyed = c.settings.pii_keys is None and destroy_dev_pii_keys(c.settings.data_dir)
        exports = c.settings.data_dir / "exports" / "checkins"  # daily check-in exports name residents
        removed = sum(1 for _ in exports.rglob("*.parquet")) if exports.exists() else 0
        if exports.exists():
            shutil.rmtree(exports)
        done = privacy.shutdown(c.deps, destroyed, {"checkin_export_files": removed})
    out.write_text(json.dumps(done["statistics"], ensure_ascii=False, indent=1) + "\n")
    console.print(f"statistics written to {out} (sha256 {done['statistics_sha256']})")
    console.print("deleted: " + ", ".join(f"{k} {v}" for k, v in done["deleted"].items() if v))
    if not destroyed:
        console.print(
            "[yellow]the PII keys are configured outside this instance: destroy CIVICPASS_PII_KEYS where it is kept[/yellow]"
        )


def main(argv: list[str] | None = None) -> None:
    command: Callable[..., object] = app
    command(args=argv if argv is not None else sys.argv[1:])
