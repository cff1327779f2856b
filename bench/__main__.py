"""Run every benchmark: ``python -m bench`` (what ``make bench`` does)."""

from bench import foundation, recompute

foundation.main()
recompute.main()
