"""Run every benchmark: ``python -m bench`` (what ``make bench`` does)."""

from bench import audit, checkins, feeds, foundation, recompute, tracing

foundation.main()
recompute.main()
checkins.main()
tracing.main()
feeds.main()
audit.main()
