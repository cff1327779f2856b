"""Use cases: functions that take a unit of work and the ports they need, and orchestrate the domain."""
