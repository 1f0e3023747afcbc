"""The store's schema as Alembic migrations (env.py, versions/); `runner` applies them when a Store opens."""
