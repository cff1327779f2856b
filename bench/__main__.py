"""Run every benchmark: ``python -m bench`` (what ``make bench`` does).

Between benchmarks PostgreSQL is made to write out what the last one left (``common.settle``): before,
the audit and feed figures behind the tracing benchmark's 10 million rows came out lower than the same
benchmarks run alone.
"""

from bench import audit, checkins, foundation, recompute, tracing
from bench.common import settle

POSTGRES_URL = checkins.POSTGRES_URL

for benchmark in (foundation, recompute, checkins, tracing, audit):
    benchmark.main()
    settle(POSTGRES_URL)
