"""Benchmarks that print comparisons measured side by side in one run. Not part of the pass/fail suite."""
