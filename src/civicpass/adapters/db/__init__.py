"""Storage on SQLAlchemy 2 Core: SQLite (embedded default) and PostgreSQL (production)."""
