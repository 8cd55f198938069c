"""Benchmarks run on demand (not in CI); see BENCHMARKS.md."""
