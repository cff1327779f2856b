"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from civicpass import __version__
from civicpass.adapters.db.migrate import is_current
from civicpass.web.deps import ContainerDep

router = APIRouter(tags=["operations"])


@router.get("/health")
def health() -> dict[str, Any]:
    """The process is up (it does not touch the database)."""
    return {"status": "ok", "version": __version__}


@router.get("/ready")
def ready(container: ContainerDep) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if is_current(container.engine) else "pending"
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )
