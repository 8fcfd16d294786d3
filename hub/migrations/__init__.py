"""Alembic migrations of the hub database (`tickethub db upgrade`).

Files are named ``NNNN_<what>.py`` in the order they apply (tests/hub/test_migration_files.py
keeps it so). The first five keep their original revision ids (0001, w001, d001, h001,
s001) so existing databases upgrade unchanged; a new migration takes the next number as
both its file prefix and its revision id, e.g. ``alembic revision --rev-id 0006 -m "..."``.
"""
