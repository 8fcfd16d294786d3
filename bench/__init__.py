"""Benchmarks (not tests): each script prints a table and writes bench/results/*.json.

Run them as modules from the repository root, e.g. ``.venv/bin/python -m
bench.bench_sync``, or all of them with ``make bench``; that way ``bench.``
and ``tests.`` (shared helpers) import without touching ``sys.path``.
"""
