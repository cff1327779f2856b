"""Declaration forms and residents' declarations (GB/T 38963: health declaration, trip declaration)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, status

from civicpass.services import declarations
from civicpass.web.deps import CurrentResident, CurrentStaff, IdempotencyKey, ServiceDeps
from civicpass.web.schemas import MAX_FORM_VERSION, DeclarationIn, FormIn, declaration_view, form_view

router = APIRouter(prefix="/v1", tags=["declarations"])


@router.get("/forms")
def list_forms(deps: ServiceDeps) -> list[dict[str, Any]]:
    """The current version of every form."""
    return [form_view(f) for f in declarations.list_forms(deps)]


@router.get("/forms/{key}")
def get_form(key: str, deps: ServiceDeps) -> dict[str, Any]:
    return form_view(declarations.get_form(deps, key))


@router.get("/forms/{key}/versions/{version}")
def get_form_version(
    key: str, deps: ServiceDeps, version: int = Path(ge=1, le=MAX_FORM_VERSION)
) -> dict[str, Any]:
    return form_view(declarations.get_form(deps, key, version))


@router.post("/forms/{key}/versions", status_code=status.HTTP_201_CREATED)
def publish_form(key: str, body: FormIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Publish the next version of a form (admin or CDC); earlier submissions keep their version."""
    document = {"title": body.title, "schema": body.json_schema, "ui": body.ui, "labels": body.labels}
    return form_view(declarations.publish_form(deps, actor, key, document))


@router.post("/me/declarations", status_code=status.HTTP_201_CREATED)
def submit_declaration(
    body: DeclarationIn,
    actor: CurrentResident,
    deps: ServiceDeps,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Submit a declaration for yourself or, as guardian, for a dependent (``subject_id``).

    Send an ``Idempotency-Key`` header so that a retry after a lost answer is stored only once.
    """
    submission = declarations.Submission(
        body.subject_id or actor.id, body.form_key, body.form_version, body.answers
    )
    stored = declarations.submit(deps, actor, submission, idempotency_key)
    return declaration_view(stored)


@router.get("/me/declarations")
def list_declarations(
    actor: CurrentResident,
    deps: ServiceDeps,
    subject_id: str | None = Query(None, max_length=36),
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Your declarations (or a dependent's), newest first, each with the form version it answered."""
    return [
        declaration_view(d)
        for d in declarations.list_declarations(deps, actor, subject_id or actor.id, limit)
    ]
