"""No route or command sets a color: every color is ``domain.status.evaluate`` of facts under the rules.

Four independent demonstrations:

* every HTTP route (taken from ``client.app.routes``, so a route added later is covered) and every field of
  every request body, nested models included, has no field or parameter that could carry a color;
* every ``civicpass`` command (sub-commands included) has no such parameter;
* statically, only the status repository touches the ``statuses`` and ``status_history`` tables, only
  ``services/status.py`` saves a status, and the color it saves is the one ``evaluate`` returned;
* dynamically, on SQLite and PostgreSQL, after calling every route as a CDC officer, an administrator and
  a resident with plausible bodies, every stored status is exactly what ``evaluate`` gives.
"""

from __future__ import annotations

import ast
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
import typer.main
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

import civicpass
from civicpass import cli
from civicpass.adapters.db import tables
from civicpass.adapters.files import bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.staff import Role
from civicpass.domain.status import evaluate
from civicpass.web import deps as web_deps
from tests.bodies import plausible
from tests.fakes import FakeClock
from tests.support import enrol, resident_id_number, staff_headers

SRC = Path(civicpass.__file__).parent
FASTAPI_OWN = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BODY_METHODS = {"POST", "PUT", "PATCH"}

COLORISH = re.compile(r"colou?r|(^|_)status(es)?($|_)|health_?code|code_?colou?r", re.IGNORECASE)
"""A name that could carry a color: color, colour, colors, status, new_status, health_code, code_color..."""

RULE_DOCUMENT_FIELDS = {("RuleSetIn", "colors"), ("RuleIn", "color")}
"""The only color-named body fields: parts of a rule-set *document* (which colors exist, and which color a
rule gives when its CertLogic condition holds). They name no resident, are only reachable by proposing a
rule set (POST /v1/rule-sets), take effect only when a second CDC member approves, and then act through
``evaluate`` for everyone alike (tested in test_status_api)."""


def colorish(name: str) -> bool:
    return bool(COLORISH.search(name.replace("-", "_")))


def test_the_color_pattern_matches_what_it_should() -> None:
    for name in (
        "color",
        "Colour",
        "colors",
        "status",
        "new_status",
        "health_code",
        "healthCode",
        "code_color",
    ):
        assert colorish(name), name
    for name in ("code", "state", "kind", "reason_code", "region_code", "statue", "statistics"):
        assert not colorish(name), name


# ---- the routes and their bodies ------------------------------------------------------------------


def _route_contexts(routes: Any) -> Iterator[Any]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers became lazy: app.routes is already flat
        yield from routes
        return
    yield from iter_route_contexts(routes)


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


@dataclass
class Endpoint:
    method: str
    path: str
    auth: str | None
    body_model: type[BaseModel] | None
    path_params: dict[str, Any] = field(default_factory=dict)
    query_params: dict[str, Any] = field(default_factory=dict)
    header_params: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in _route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if route.path in FASTAPI_OWN or dependant is None:
            continue
        calls = set(_calls(dependant))
        auth = "resident" if web_deps._resident in calls else "staff" if web_deps._staff in calls else None
        bodies = [p.field_info.annotation for p in dependant.body_params]
        body_model = bodies[0] if len(bodies) == 1 and isinstance(bodies[0], type) else None
        assert len(bodies) == (body_model is not None), (
            f"{route.path}: cannot tell the body model of {bodies}"
        )
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append(
                Endpoint(
                    method,
                    route.path,
                    auth,
                    body_model,
                    {p.name: p.field_info.annotation for p in dependant.path_params},
                    {p.alias: p.field_info.annotation for p in dependant.query_params},
                    [p.alias for p in dependant.header_params],
                )
            )
    return found


def _unwrap(annotation: Any) -> list[Any]:
    """Every type an annotation can hold: ``X | None`` -> [X], ``list[Y]`` -> [Y], ``dict[str, Z]`` -> [Z]."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, dict, typing.Annotated):
        args = typing.get_args(annotation)
        if origin is dict:
            args = args[1:]
        if origin is typing.Annotated:
            args = args[:1]
        return [t for a in args if a is not type(None) for t in _unwrap(a)]
    return [annotation]


def model_fields(model: type[BaseModel], seen: frozenset[type] = frozenset()) -> Iterator[tuple[str, str]]:
    """(model name, field name and alias) of every field of the model and of every model nested in it."""
    if model in seen:
        return
    for name, info in model.model_fields.items():
        yield model.__name__, name
        if info.alias and info.alias != name:
            yield model.__name__, info.alias
        for inner in _unwrap(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from model_fields(inner, seen | {model})


@pytest.fixture
def app_routes(client: TestClient) -> list[Endpoint]:
    return endpoints(typing.cast(FastAPI, client.app))


def test_no_route_takes_a_color(app_routes: list[Endpoint]) -> None:
    by_id = {r.id: r for r in app_routes}
    writes = [r for r in app_routes if r.method in WRITE_METHODS]
    # Non-vacuous: the walk reached the included routers and the status engine's write routes.
    assert len(app_routes) >= 35, sorted(by_id)
    assert {
        "POST /v1/staff/facts",
        "POST /v1/staff/facts/{fact_id}/approve",
        "POST /v1/staff/facts/{fact_id}/reject",
        "POST /v1/staff/risk-areas",
        "POST /v1/rule-sets",
        "POST /v1/rule-sets/{version}/approve",
        "POST /v1/me/declarations",
        "POST /v1/staff/accounts",
        "DELETE /v1/me/dependents/{dependent_id}",
    } <= {r.id for r in writes}
    assert by_id["POST /v1/staff/facts"].body_model is not None

    fields_seen: set[tuple[str, str]] = set()
    offending = []
    for route in app_routes:
        names = [*route.path_params, *route.query_params, *route.header_params]
        offending += [f"{route.id}: parameter {n}" for n in names if colorish(n)]
        if route.method in WRITE_METHODS:
            segments = [s for s in route.path.split("/") if s]
            offending += [f"{route.id}: path segment {s}" for s in segments if colorish(s.strip("{}"))]
        if route.body_model is None:
            continue
        for model_name, name in model_fields(route.body_model):
            fields_seen.add((model_name, name))
            if colorish(name) and (model_name, name) not in RULE_DOCUMENT_FIELDS:
                offending.append(f"{route.id}: body field {model_name}.{name}")
    assert not offending, offending
    # Nested models were walked (the document in EnrolIn, the rules and their texts in RuleSetIn)...
    assert {
        ("DocumentIn", "number"),
        ("RuleIn", "logic"),
        ("TextIn", "zh-CN"),
        ("FactIn", "kind"),
    } <= fields_seen
    assert len(fields_seen) > 60
    # ...and the allowed rule-document fields still exist, reachable from the rule-set proposal only.
    assert fields_seen >= RULE_DOCUMENT_FIELDS
    carrying = {
        r.id for r in app_routes if r.body_model and RULE_DOCUMENT_FIELDS & set(model_fields(r.body_model))
    }
    assert carrying == {"POST /v1/rule-sets"}


def test_a_color_sent_to_any_write_route_is_refused_as_an_unknown_field(
    client: TestClient, container: Container, messenger: MemoryMessenger, app_routes: list[Endpoint]
) -> None:
    """Whatever else the body says, a top-level color or status is an unknown field: 422, nothing stored."""
    _, resident = enrol(client, messenger)
    tokens = {"resident": resident, "staff": staff_headers(client, container, Role.CDC), None: {}}
    checked = 0
    for route in app_routes:
        if route.body_model is None or route.method not in BODY_METHODS:
            continue
        for name in ("color", "status", "health_code"):
            response = client.request(
                route.method,
                fill(route, {}),
                headers=tokens[route.auth],
                json={**plausible(route.body_model), name: "green"},
            )
            assert response.status_code == 422, (route.id, response.text)
            errors = {(e["path"], e["reason"]) for e in response.json()["errors"]}
            assert ("/" + name, "field_extra_forbidden") in errors, (route.id, errors)
            checked += 1
    assert checked >= 3 * 15
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.statuses)).scalar_one() == 0


# ---- the commands ---------------------------------------------------------------------------------


def typer_commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(command path, callback) of every command, sub-typers included."""
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        yield (*prefix, name), command.callback
    for group in app.registered_groups:
        assert group.typer_instance is not None
        yield from typer_commands(group.typer_instance, (*prefix, group.name or ""))


def parameter_names(callback: Any) -> Iterator[str]:
    """A callback's parameter names and every option or argument name declared for them."""
    for name, parameter in inspect.signature(callback, eval_str=True).parameters.items():
        yield name
        for meta in getattr(parameter.annotation, "__metadata__", ()):
            yield from (d.lstrip("-") for d in getattr(meta, "param_decls", None) or ())
        yield from (d.lstrip("-") for d in getattr(parameter.default, "param_decls", None) or ())


def click_commands(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(command path, command) of every leaf of the assembled command line (a group has ``commands``)."""
    subcommands = getattr(command, "commands", None)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            yield from click_commands(sub, (*prefix, name))
    else:
        yield prefix, command


def test_no_command_takes_a_color() -> None:
    commands = dict(typer_commands(cli.app))
    assert {
        ("migrate",),
        ("create-staff",),
        ("rules", "propose"),
        ("rules", "approve"),
        ("status", "recompute"),
        ("status", "sweep"),
    } <= set(commands), sorted(commands)
    offending = [
        f"{' '.join(path)}: {name}"
        for path, callback in commands.items()
        for name in parameter_names(callback)
        if colorish(name)
    ]
    assert not offending, offending
    # The same, as the assembled command line sees it (names, option strings and environment variables).
    built = dict(click_commands(typer.main.get_command(cli.app)))
    assert set(built) == set(commands)
    names = 0
    for path, command in built.items():
        for param in command.params:
            candidates = [param.name or "", *(o.lstrip("-") for o in (*param.opts, *param.secondary_opts))]
            envvar = getattr(param, "envvar", None)
            candidates += [envvar] if isinstance(envvar, str) else list(envvar or ())
            offending += [
                f"{' '.join(path)}: {c}" for c in candidates if colorish(c.removeprefix("CIVICPASS_"))
            ]
            names += len(candidates)
    assert not offending, offending
    assert names > 10
    # The status commands re-evaluate; they take no arguments at all.
    assert not built[("status", "recompute")].params
    assert not built[("status", "sweep")].params


# ---- the code ------------------------------------------------------------------------------------

STATUS_TABLES = {"statuses", "status_history"}
TABLES_MODULE = "civicpass.adapters.db.tables"
REPOSITORY = "adapters/db/status_repositories.py"
SQL_WRITE = re.compile(
    r"\b(insert\s+(or\s+\w+\s+)?into|update|delete\s+from|truncate(\s+table)?|replace\s+into|merge\s+into)"
    r"\s+[\"`\[]?(\w+[\"`\]]?\.[\"`\[]?)?(statuses|status_history)\b",
    re.IGNORECASE,
)


def sources() -> dict[str, ast.Module]:
    found = {
        path.relative_to(SRC).as_posix(): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(SRC.rglob("*.py"))
    }
    assert len(found) > 30
    assert REPOSITORY in found
    assert "services/status.py" in found
    return found


def _module_name(relative: str) -> str:
    return "civicpass." + relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _absolute(relative: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = _module_name(relative).split(".")
    if not relative.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def table_references(relative: str, tree: ast.Module) -> list[str]:
    """Where a module reaches the ``statuses`` or ``status_history`` table object (or names it in a string)."""
    aliases: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name == TABLES_MODULE and a.asname}
            if any(a.name == TABLES_MODULE and not a.asname for a in node.names):
                aliases.add("civicpass")  # then reached as civicpass.adapters.db.tables.statuses
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(relative, node)
            for a in node.names:
                if f"{module}.{a.name}" == TABLES_MODULE:
                    aliases.add(a.asname or a.name)
                if module == TABLES_MODULE and a.name in (STATUS_TABLES | {"*"}):
                    found.append(f"{relative}:{node.lineno} imports {a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STATUS_TABLES:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                found.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text in STATUS_TABLES or SQL_WRITE.search(text):
                found.append(f"{relative}:{node.lineno} string {text[:60]!r}")
    return found


def test_only_the_status_repository_touches_the_status_tables() -> None:
    trees = sources()
    references = {rel: table_references(rel, tree) for rel, tree in trees.items()}
    assert tables.statuses.name == "statuses"
    assert tables.status_history.name == "status_history"
    # Non-vacuous: the walk does find the repository's own use of both tables.
    mine = " ".join(references[REPOSITORY])
    assert "t.statuses" in mine, references[REPOSITORY]
    assert "t.status_history" in mine, references[REPOSITORY]
    # The schema itself names them: the table definitions and the migration that creates them.
    allowed = {REPOSITORY, "adapters/db/tables.py"}
    migrations = {rel for rel in references if rel.startswith("adapters/db/migrations/")}
    elsewhere = {rel: found for rel, found in references.items() if found and rel not in allowed | migrations}
    assert not elsewhere, elsewhere
    # Migrations may create and drop them, never write rows into them.
    for rel in migrations:
        for node in ast.walk(trees[rel]):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not SQL_WRITE.search(node.value), (rel, node.value)
    # Inside the repository only SqlStatuses.save and save_many write statuses (the history too); mark_due
    # writes a mark row naming the residents (a marked status reads as due until the sweep has re-evaluated
    # it) and no status; the other methods select.
    writes = re.compile(r"\b(insert|update|delete|copy_rows|on_conflict_do_update)\b")
    writers = {}
    for cls in ast.walk(trees[REPOSITORY]):
        if isinstance(cls, ast.ClassDef):
            for fn in cls.body:
                if not isinstance(fn, ast.FunctionDef):
                    continue
                source = ast.unparse(fn)
                if ("t.statuses" in source or "t.status_history" in source) and writes.search(source):
                    writers[f"{cls.name}.{fn.name}"] = fn
    assert set(writers) == {"SqlStatuses.save", "SqlStatuses.save_many", "SqlStatuses.destroy_all"}
    # destroy_all (the end-of-epidemic shutdown) only deletes: it cannot leave a color behind.
    calls = [
        ast.unparse(n.func) for n in ast.walk(writers["SqlStatuses.destroy_all"]) if isinstance(n, ast.Call)
    ]
    assert not [c for c in calls if c.endswith((".insert", ".update", ".values", "copy_rows"))], calls
    (due,) = [
        fn
        for cls in ast.walk(trees[REPOSITORY])
        if isinstance(cls, ast.ClassDef) and cls.name == "SqlStatuses"
        for fn in cls.body
        if isinstance(fn, ast.FunctionDef) and fn.name == "mark_due"
    ]
    assert not writes.search(ast.unparse(due).replace("t.status_marks.insert", "")), ast.unparse(due)
    inserts = [
        ast.unparse(n.func)
        for n in ast.walk(due)
        if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(("insert", "copy_rows"))
    ]
    assert inserts == ["t.status_marks.insert"], ast.unparse(due)


def _enclosing_functions(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef, ast.AST]]:
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                yield typing.cast(ast.FunctionDef, fn), node


def _is_status_save(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("save", "save_many")
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "statuses"
    )


def _assignments(fn: ast.FunctionDef, name: str) -> list[ast.AST]:
    """Every statement in ``fn`` that binds ``name`` (assignments, loops, with-as, walrus, deletes)."""
    bound = []
    for node in ast.walk(fn):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr | ast.For | ast.comprehension):
            targets = [node.target]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = [node.optional_vars]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        if any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t)):
            bound.append(node)
    if any(a.arg == name for a in (*fn.args.args, *fn.args.kwonlyargs, *fn.args.posonlyargs)):
        bound.append(fn.args)
    return bound


def test_only_the_status_service_saves_a_status_and_its_color_comes_from_evaluate() -> None:
    trees = sources()
    saves = [
        (rel, fn.name, node)
        for rel, tree in trees.items()
        for fn, node in _enclosing_functions(tree)
        if _is_status_save(node)
    ]
    assert {(rel, name) for rel, name, _ in saves} == {("services/status.py", "recompute_in")}, saves
    # No other module even reaches the repository's save (say, as getattr(uow.statuses, "save")).
    for rel, tree in trees.items():
        if rel == "services/status.py":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "statuses"
                and ast.unparse(node.value) == "uow"
            ):
                parent_calls = [
                    c
                    for c in ast.walk(tree)
                    if isinstance(c, ast.Attribute)
                    and c.value is node
                    # mark_due writes a mark, no status (checked in the repository above)
                    and c.attr not in ("get", "get_many", "history", "due", "mark_due")
                ]
                assert not parent_calls, (rel, [ast.unparse(c) for c in parent_calls])

    tree = trees["services/status.py"]
    ((_, _, call),) = saves
    fn = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "recompute_in")
    assert isinstance(call, ast.Call)
    (batch,) = call.args
    assert isinstance(batch, ast.Name), ast.unparse(call)
    # The batch saved is bound once, to an empty list, and only ever appended (status, changed) pairs...
    (bound,) = _assignments(fn, batch.id)
    assert isinstance(bound, ast.AnnAssign | ast.Assign), ast.unparse(bound)
    assert bound.value is not None
    assert ast.unparse(bound.value) == "[]"
    uses = [n for n in ast.walk(fn) if isinstance(n, ast.Attribute) and ast.unparse(n.value) == batch.id]
    assert [u.attr for u in uses] == ["append"], [ast.unparse(u) for u in uses]
    (append,) = [
        n for n in ast.walk(fn) if isinstance(n, ast.Call) and ast.unparse(n.func) == f"{batch.id}.append"
    ]
    (pair,) = append.args
    assert isinstance(pair, ast.Tuple), ast.unparse(append)
    assert isinstance(pair.elts[0], ast.Name), ast.unparse(append)
    saved = pair.elts[0]
    # ...each a StoredStatus(...) built right there, bound once...
    (built,) = _assignments(fn, saved.id)
    assert isinstance(built, ast.Assign), ast.unparse(built)
    assert isinstance(built.value, ast.Call), ast.unparse(built)
    assert ast.unparse(built.value.func) == "StoredStatus"
    keywords = {k.arg: k.value for k in built.value.keywords}
    # No positional or **spread fields to hide a color in.
    assert not built.value.args
    assert None not in keywords
    color = keywords["color"]
    # ...whose color is ``result.color``, where ``result`` is bound once, to ``evaluate(...)``.
    assert isinstance(color, ast.Attribute), ast.unparse(color)
    assert color.attr == "color"
    assert isinstance(color.value, ast.Name)
    (evaluated,) = _assignments(fn, color.value.id)
    assert isinstance(evaluated, ast.Assign), ast.unparse(evaluated)
    assert isinstance(evaluated.value, ast.Call), ast.unparse(evaluated)
    assert ast.unparse(evaluated.value.func) == "evaluate"
    assert ast.unparse(keywords["reasons"]).endswith(f"{color.value.id}.reasons]")
    assert ast.unparse(keywords["review_at"]) == f"{color.value.id}.review_at"
    # ``evaluate`` is the domain's, imported once and never rebound in the module.
    imports = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == "evaluate" for a in n.names)
    ]
    assert [(n.module, [(a.name, a.asname) for a in n.names if a.name == "evaluate"]) for n in imports] == [
        ("civicpass.domain.status", [("evaluate", None)])
    ]
    rebinding = [
        n
        for n in ast.walk(tree)
        if (isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == "evaluate")
        or (isinstance(n, ast.Name) and n.id == "evaluate" and isinstance(n.ctx, ast.Store))
    ]
    assert not rebinding
    # StoredStatus is built only there and in the repository's row reader.
    builders = {
        (rel, fn.name)
        for rel, t in trees.items()
        for fn, node in _enclosing_functions(t)
        if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "StoredStatus"
    }
    assert builders == {("services/status.py", "recompute_in"), (REPOSITORY, "_status")}, builders


# ---- every route, called; then every stored status checked against the engine ---------------------

UNKNOWN_ID = "00000000-0000-4000-8000-00000000beef"
HEALTH_FEVER = {
    "temperature_c": 38.6,
    "symptoms": ["fever"],
    "contact_history": {
        "confirmed_case": False,
        "suspected_case": False,
        "high_risk_area_visitor": False,
        "fever_cluster": False,
    },
}


def fill(route: Endpoint, values: dict[str, str]) -> str:
    path = route.path
    for name, annotation in route.path_params.items():
        path = path.replace("{" + name + "}", values.get(name) or ("1" if annotation is int else UNKNOWN_ID))
    return path


@dataclass
class World:
    """What the sweep acts on: residents with a dependent, staff, a pending fact and a pending rule set."""

    residents: dict[str, dict[str, Any]]
    tokens: dict[str, dict[str, str]]
    bodies: dict[str, list[Any]]
    paths: dict[str, dict[str, str]]
    queries: dict[str, dict[str, str]]


def _world(client: TestClient, container: Container, messenger: MemoryMessenger) -> World:
    alice, alice_headers = enrol(client, messenger, phone="13800138000")
    bob_number = resident_id_number(serial="124")
    bob, bob_headers = enrol(client, messenger, phone="13800138001", number=bob_number, name="李四")
    carol_number = resident_id_number(district="440104", serial="125")
    carol, _ = enrol(client, messenger, phone="13800138002", number=carol_number, region_code="440104")
    child = client.post(
        "/v1/me/dependents",
        headers=alice_headers,
        json={"name": "小宝", "birth_date": "2018-01-01", "relation": "parent"},
    )
    assert child.status_code == 201, child.text
    cdc = staff_headers(client, container, Role.CDC, username="cdc-on-duty")
    admin = staff_headers(client, container, Role.ADMIN)
    proposer = staff_headers(client, container, Role.CDC, username="cdc-proposer")
    # Someone else's proposals, for the CDC officer to approve and reject; a pending rule set likewise.
    to_approve, to_reject = (
        client.post(
            "/v1/staff/facts",
            headers=proposer,
            json={"subject_id": who["id"], "kind": kind, "data": {}},
        )
        for who, kind in ((alice, "close_contact"), (bob, "secondary_contact"))
    )
    assert to_approve.status_code == to_reject.status_code == 201
    assert to_approve.json()["state"] == to_reject.json()["state"] == "proposed"
    document = bundled_ruleset()
    document["identifier"] = "civicpass-checkins"
    document["parameters"]["yellow_release"] = "checkins"
    pending = client.post("/v1/rule-sets", headers=proposer, json=document)
    assert pending.status_code == 201, pending.text
    assert pending.json()["version"] == 2
    # Statuses before the sweep, so that changes are versions (and notifications).
    for headers in (alice_headers, bob_headers):
        assert client.get("/v1/me/status", headers=headers).json()["color"] == "green"
    withdrawn = {**document, "identifier": "civicpass-withdrawn"}
    trip = {
        "places": [{"place": "440104", "from": "2022-05-01", "to": "2022-05-02"}],
        "planned_arrival": {"region": "440106", "date": "2022-05-03"},
    }
    return World(
        residents={"alice": alice, "bob": bob, "carol": carol, "child": child.json()},
        tokens={"cdc": cdc, "admin": admin, "resident": alice_headers},
        bodies={
            "POST /v1/phone-verifications": [{"phone": "13800138009"}],
            "POST /v1/residents": [
                {
                    "verification_token": "not-a-token",
                    "name": "王五",
                    "document": {"type": "resident_id", "number": resident_id_number(serial="126")},
                    "region_code": "440106",
                }
            ],
            "POST /v1/me/dependents": [{"name": "小红", "birth_date": "2019-02-02", "relation": "parent"}],
            "POST /v1/me/dependents/{dependent_id}/guardians": [
                {"phone": "13800138001", "relation": "parent"}
            ],
            "POST /v1/forms/{key}/versions": [
                {"title": {"zh-CN": "测试", "en": "Test"}, "schema": {"type": "object"}}
            ],
            "POST /v1/me/declarations": [
                {"form_key": "health", "answers": HEALTH_FEVER},
                {"form_key": "trip", "answers": trip},
                {
                    "form_key": "daily_checkin",
                    "subject_id": child.json()["id"],
                    "answers": {"temperature_c": 38.2, "feels_well": False},
                },
            ],
            "POST /v1/staff/sessions": [{"username": "nobody", "password": "wrong password"}],
            "POST /v1/staff/accounts": [
                {
                    "username": "new-worker",
                    "password": "a long enough passphrase",
                    "role": "community_worker",
                    "jurisdiction": "440106",
                }
            ],
            "POST /v1/staff/resident-lookups": [
                {
                    "document": {"type": "resident_id", "number": bob_number},
                    "purpose": {"code": "follow_up", "text": "checking a declared fever"},
                }
            ],
            "POST /v1/staff/facts": [
                {"subject_id": carol["id"], "kind": "close_contact", "data": {}},
                {
                    "subject_id": carol["id"],
                    "kind": "peer_status",
                    "data": {"issuer": "粤康码", "color": "red"},
                },
                {
                    "subject_id": bob["id"],
                    "kind": "test_result",
                    "data": {"test": "pcr", "result": "negative", "sampled_at": "2022-05-03T09:00:00+08:00"},
                },
                {
                    "subject_id": carol["id"],
                    "kind": "isolation_order",
                    "data": {"place": "home", "until": "2022-05-10T00:00:00+08:00"},
                },
            ],
            "POST /v1/staff/facts/{fact_id}/reject": [{"note": "not a contact after all"}],
            "POST /v1/staff/risk-areas": [
                {"region_code": "440100", "level": "medium", "valid_from": "2022-04-25T00:00:00+08:00"}
            ],
            "POST /v1/rule-sets": [withdrawn],
        },
        paths={
            "POST /v1/staff/facts/{fact_id}/approve": {"fact_id": to_approve.json()["id"]},
            "POST /v1/staff/facts/{fact_id}/reject": {"fact_id": to_reject.json()["id"]},
            "POST /v1/rule-sets/{version}/approve": {"version": "2"},
            "POST /v1/rule-sets/{version}/reject": {"version": "3"},
            "POST /v1/forms/{key}/versions": {"key": "extra"},
            "*": {"dependent_id": child.json()["id"], "key": "health", "version": "1", "code": "440106"},
        },
        queries={"GET /v1/staff/residents": {"region_code": "440106"}},
    )


def _sweep(
    http: TestClient,
    world: World,
    routes: list[Endpoint],
    outcomes: dict[str, set[int]],
    check: Callable[[str], object],
) -> None:
    """Call each route as each kind of user with each body; after every call, check the stored statuses."""
    for route in routes:
        values = {**world.paths["*"], **world.paths.get(route.id, {})}
        bodies: list[Any] = [None]
        if route.body_model is not None:
            bodies = world.bodies.get(route.id) or [plausible(route.body_model)]
        for kind in ("cdc", "admin", "resident"):
            for body in bodies:
                response = http.request(
                    route.method,
                    fill(route, values),
                    headers=world.tokens[kind],
                    params=world.queries.get(route.id),
                    json=body,
                )
                assert response.status_code < 500, (route.id, kind, response.text[:300])
                outcomes.setdefault(f"{route.id} as {kind}", set()).add(response.status_code)
                check(f"{route.id} as {kind} -> {response.status_code} (body {body})")


def statuses_match_the_engine(container: Container, clock: FakeClock, after: str = "") -> dict[str, str]:
    """Check every stored status against ``evaluate``; return the colors by resident.

    A status is compared at the current clock, or, when it is overdue for review (a read or the sweeper
    re-evaluates it then), at the moment it was evaluated: either way under the active rule set and with
    the resident's facts as they are now, since every change of facts must re-evaluate at once.
    """
    with container.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(tables.statuses))]
        latest = {
            r.subject_id: r
            for r in conn.execute(sa.select(tables.status_history).order_by(tables.status_history.c.version))
        }
    with container.deps.uow() as uow:
        ruleset = uow.rulesets.active()
        assert ruleset is not None
        facts = uow.facts.for_subjects([r["subject_id"] for r in rows])
    now = clock.now()
    mismatches = []
    for row in rows:
        moment = now if row["review_at"] > now else row["evaluated_at"]
        expected = evaluate(facts[row["subject_id"]], ruleset.ruleset, moment, container.deps.zone)
        stored = (row["color"], row["ruleset_version"])
        if stored != (expected.color, ruleset.version) or not expected.same_outcome(
            row["color"], row["reasons"]
        ):
            mismatches.append(
                (row["subject_id"], stored, expected.color, [r.reason_code for r in expected.reasons])
            )
        # The current status is the newest version in the history.
        history = latest[row["subject_id"]]
        assert (history.version, history.color) == (row["version"], row["color"]), after
    assert not mismatches, (f"after {after}", mismatches)
    return {row["subject_id"]: row["color"] for row in rows}


def test_after_every_route_is_called_every_stored_status_is_what_the_engine_gives(
    client: TestClient,
    container: Container,
    messenger: MemoryMessenger,
    clock: FakeClock,
    app_routes: list[Endpoint],
) -> None:
    world = _world(client, container, messenger)
    ids = {name: r["id"] for name, r in world.residents.items()}
    outcomes: dict[str, set[int]] = {}
    writes_last = sorted(app_routes, key=lambda r: r.method == "DELETE")  # signing out comes last

    def check(after: str) -> None:
        statuses_match_the_engine(container, clock, after)

    with TestClient(client.app, raise_server_exceptions=False) as http:
        # Checked after every call, before a later read (or rule-set approval) could re-evaluate a status
        # that a write left stale.
        _sweep(http, world, [r for r in writes_last if r.method != "DELETE"], outcomes, check)
        colors = statuses_match_the_engine(container, clock)
        assert colors[ids["alice"]] == "red"  # the approved close contact (on top of a declared fever)
        assert colors[ids["child"]] == "yellow"  # a feverish check-in declared by the guardian
        assert colors[ids["bob"]] == colors[ids["carol"]] == "green"
        # Again, two hours later: the second round sees what the first created (the risk area for the
        # trip, rule set 2), and reads re-evaluate statuses whose review time has passed.
        clock.advance(hours=2)
        _sweep(http, world, writes_last, outcomes, check)
    assert {r.id for r in app_routes} == {key.rsplit(" as ", 1)[0] for key in outcomes}

    # Non-vacuous: the writes that move colors really happened.
    for done in (
        "POST /v1/me/declarations as resident",
        "POST /v1/staff/facts as cdc",
        "POST /v1/staff/facts/{fact_id}/approve as cdc",
        "POST /v1/staff/facts/{fact_id}/reject as cdc",
        "POST /v1/staff/risk-areas as cdc",
        "POST /v1/rule-sets as cdc",
        "POST /v1/rule-sets/{version}/approve as cdc",
        "GET /v1/me/status as resident",
    ):
        assert outcomes[done] & {200, 201}, (done, outcomes[done])
    assert 403 in outcomes["POST /v1/staff/facts/{fact_id}/approve as admin"]
    assert 403 in outcomes["POST /v1/staff/facts as resident"]

    colors = statuses_match_the_engine(container, clock)
    with container.deps.uow() as uow:
        active = uow.rulesets.active()
        assert active is not None
        assert (active.version, active.ruleset.identifier) == (2, "civicpass-checkins")
        assert uow.residents.count() >= len(colors) >= 5  # approving rule set 2 re-evaluated everyone
    assert colors[ids["alice"]] == "red"
    assert colors[ids["bob"]] == "green"  # the secondary contact was rejected
    assert colors[ids["child"]] == "yellow"
    assert colors[ids["carol"]] == "green"  # staff proposals about her were never approved
