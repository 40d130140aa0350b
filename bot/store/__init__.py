"""Persistence: SQLAlchemy models, schema management, and the repository."""
