"""What every benchmark needs: settings with fresh random keys (nothing from ./var) and cheap passwords."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from civicpass.settings import Settings


def random_keys() -> dict[str, str]:
    """A fresh PII keyring, blind-index, signing and keystore key: benchmarks never touch real secrets."""

    def key() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    return {"pii_keys": "k1:" + key(), "blind_index_key": key(), "signing_key": key(), "keystore_key": key()}


def bench_settings(url: str, data_dir: Path, schema: str | None) -> Settings:
    return Settings(
        database_url=url,
        database_schema=schema,
        data_dir=data_dir,
        password_time_cost=1,
        password_memory_cost=1024,
        sweep_interval_seconds=0,
        log_interval_seconds=0,
        checkin_maintenance_interval_seconds=0,
        **random_keys(),
    )


def reset_schema(url: str, schema: str, create: bool = True) -> None:
    """Drop a benchmark's PostgreSQL schema (and make it again, empty, with ``create``)."""
    import sqlalchemy as sa

    from civicpass.adapters.db.engine import make_engine

    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if create:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
