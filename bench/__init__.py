"""Benchmarks: each figure is measured beside its anchor in the same run (see __main__)."""
