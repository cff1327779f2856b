"""Seed data shipped with the package: declaration forms (JSON) and GB/T 2260 divisions (CSV)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from civicpass.domain.regions import Region, RegionLevel

DATA = resources.files("civicpass") / "data"


def bundled_forms() -> list[dict[str, Any]]:
    """Every ``data/forms/*.json`` form definition, in file-name order."""
    forms_dir = DATA / "forms"
    return [
        json.loads(f.read_text(encoding="utf-8"))
        for f in sorted(forms_dir.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".json")
    ]


def bundled_ruleset() -> dict[str, Any]:
    """The default rule set shipped with civicpass (installed as version 1 on a new database)."""
    document: dict[str, Any] = json.loads((DATA / "rulesets" / "default.json").read_text(encoding="utf-8"))
    return document


def read_regions(path: Path | None = None) -> Iterator[Region]:
    """Divisions from a CSV with columns ``code,parent,level,name_zh,name_en`` (default: the bundled list)."""
    source = (
        path.read_text(encoding="utf-8") if path else (DATA / "regions_cn.csv").read_text(encoding="utf-8")
    )
    for row in csv.DictReader(source.splitlines()):
        yield Region(
            row["code"], row["parent"] or None, RegionLevel(row["level"]), row["name_zh"], row["name_en"]
        )
