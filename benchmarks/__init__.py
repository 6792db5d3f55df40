"""Benchmarks for lrfinder: suggestion quality against a grid-search oracle, and cost.

Run ``python -m benchmarks.run_all`` to regenerate ``benchmarks/RESULTS.md``.
"""
