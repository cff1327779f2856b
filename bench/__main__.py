"""Run every benchmark: ``python -m bench`` (what ``make bench`` does)."""

from bench import foundation

foundation.main()
