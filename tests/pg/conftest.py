"""The PostgreSQL store's own tests (roles, following across processes, orphan recovery,
migration). The server fixtures (``pg_server``, ``pg_schema``, ``pg_dsn``) are in
tests/conftest.py, where the ``new_store`` fixture also runs the store tests on PostgreSQL."""
