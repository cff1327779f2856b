"""Declaration forms (versioned data) and residents' submissions against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from civicpass.domain.declarations import Declaration
from civicpass.domain.errors import Message, NotFound
from civicpass.domain.forms import FormVersion, check_form_definition, validate_answers
from civicpass.domain.policy import Action, ResidentActor, StaffActor, Target, authorize
from civicpass.services.context import Deps
from civicpass.services.idempotency import remember, replay
from civicpass.services.ports import UnitOfWork
from civicpass.services.risk_areas import facts_from_declaration
from civicpass.services.status import notify, recompute_in

MAX_LISTED = 200


def _form_not_found(key: str, version: int | None) -> NotFound:
    which = f"{key} v{version}" if version is not None else key
    return NotFound("form_not_found", Message(f"no form {which}", f"表单 {which} 不存在"))


def get_form(deps: Deps, key: str, version: int | None = None) -> FormVersion:
    with deps.uow() as uow:
        form = uow.forms.latest(key) if version is None else uow.forms.get(key, version)
    if form is None:
        raise _form_not_found(key, version)
    return form


def list_forms(deps: Deps) -> list[FormVersion]:
    with deps.uow() as uow:
        return uow.forms.all_latest()


def _new_version(
    uow: UnitOfWork, deps: Deps, key: str, document: Mapping[str, Any], published_by: str | None
) -> FormVersion:
    latest = uow.forms.latest(key)
    form = FormVersion(
        key=key,
        version=(latest.version if latest else 0) + 1,
        title=document.get("title", {}),
        schema=document.get("schema", {}),
        ui=document.get("ui", {}),
        labels=document.get("labels", {}),
        published_at=deps.clock.now(),
        published_by=published_by,
    )
    check_form_definition(form.key, form.title, form.schema)
    uow.forms.add(form)
    return form


def publish_form(deps: Deps, actor: StaffActor, key: str, document: Mapping[str, Any]) -> FormVersion:
    """Publish the next version of a form; earlier versions and their submissions stay as they are."""
    authorize(actor, Action.FORM_PUBLISH).enforce()
    with deps.uow() as uow:
        form = _new_version(uow, deps, key, document, actor.id)
        uow.commit()
    return form


def sync_forms(deps: Deps, documents: Iterable[Mapping[str, Any]]) -> list[FormVersion]:
    """Seed forms from files: publish a file's form when its content differs from the latest version.

    Running it twice changes nothing, and a changed file becomes a new version instead of rewriting one.
    """
    published = []
    with deps.uow() as uow:
        for document in documents:
            key = str(document.get("key", ""))
            latest = uow.forms.latest(key)
            candidate = {name: document.get(name, {}) for name in ("title", "schema", "ui", "labels")}
            if latest is not None and candidate == {
                name: latest.as_document()[name] for name in ("title", "schema", "ui", "labels")
            }:
                continue
            published.append(_new_version(uow, deps, key, document, None))
        uow.commit()
    return published


@dataclass(frozen=True)
class Submission:
    subject_id: str
    form_key: str
    form_version: int | None
    answers: Any


def submit(
    deps: Deps, actor: ResidentActor, submission: Submission, idempotency_key: str | None
) -> Declaration:
    """Validate answers against the chosen (default: latest) form version and store them.

    A guardian may declare for a dependent; the declaration then records the guardian as submitter.
    """
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=submission.subject_id)).enforce()
    scope = f"declaration:{actor.id}"
    with deps.uow() as uow:
        replayed_id = replay(uow, scope, idempotency_key, submission)
        if replayed_id is not None:
            replayed = uow.declarations.get(replayed_id)
            if replayed is None:  # pragma: no cover - the key and the declaration are committed together
                raise NotFound("declaration_not_found", Message("no such declaration", "申报记录不存在"))
            return replayed
        form = (
            uow.forms.latest(submission.form_key)
            if submission.form_version is None
            else uow.forms.get(submission.form_key, submission.form_version)
        )
        if form is None:
            raise _form_not_found(submission.form_key, submission.form_version)
        validate_answers(form, submission.answers)
        declaration = Declaration(
            id=deps.random.new_id(),
            subject_id=submission.subject_id,
            form_key=form.key,
            form_version=form.version,
            answers=submission.answers,
            submitted_at=deps.clock.now(),
            submitted_by=actor.id,
        )
        uow.declarations.add(declaration)
        remember(uow, deps, scope, idempotency_key, submission, declaration.id)
        derived = facts_from_declaration(uow, deps, declaration)
        for fact in derived:
            uow.facts.add(fact)
        changes = recompute_in(uow, deps, [declaration.subject_id]) if derived else []
        uow.commit()
    notify(deps, changes)
    return declaration


def list_declarations(
    deps: Deps, actor: ResidentActor, subject_id: str, limit: int = 50
) -> list[Declaration]:
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        return uow.declarations.for_subject(subject_id, min(limit, MAX_LISTED))
