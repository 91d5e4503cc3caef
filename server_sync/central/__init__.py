"""The central store: models, database connection (PostgreSQL or SQLite), migrations, rollups."""
