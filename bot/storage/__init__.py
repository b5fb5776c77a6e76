"""Engine and sessions, ORM models, read queries and Alembic migrations."""
