"""Regenerate src/civicpass/domain/iso3166.py from pycountry (pip install pycountry; run from the repo root)."""

import importlib.metadata
from pathlib import Path

import pycountry  # type: ignore[import-not-found]

codes = sorted(c.alpha_3 for c in pycountry.countries)
body = ", ".join(f'"{c}"' for c in codes)
Path("src/civicpass/domain/iso3166.py").write_text(
    '"""ISO 3166-1 alpha-3 country codes (GB/T 2659), for passport nationalities and trip destinations.\n\n'
    f"Generated from pycountry {importlib.metadata.version('pycountry')} ({len(codes)} codes) by "
    '``scripts/make_iso3166.py``.\n"""\n\n'
    f"ALPHA3: frozenset[str] = frozenset({{{body}}})\n",
    encoding="utf-8",
)
print(len(codes), "codes")
