"""salespulse benchmarks: ``python -m bench all`` (or one of them); see docs/BENCHMARKS.md."""
