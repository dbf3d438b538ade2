"""Benchmarks of the course's helpers (`make bench`) and the levers behind the `quick` scale."""
