"""Alembic migrations of the store, the same on SQLite and PostgreSQL."""
