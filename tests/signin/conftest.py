"""Fixtures for the sign-in tests (delegated mode against the sandbox's token service and tenant)."""

from tests.e2e.processes import world  # noqa: F401  (a fixture: bot processes on the production code path)
