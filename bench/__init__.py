"""Reproducible benchmarks; ``make bench`` runs them all and prints their figures."""
