"""Fixtures for the fault tests."""

from tests.e2e.processes import world  # noqa: F401  (a fixture: bot processes on the production code path)
