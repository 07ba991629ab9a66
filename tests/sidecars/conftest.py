"""Fixtures: real gunicorn masters (tests.harness.gunicorn)."""

from tests.harness.gunicorn import gunicorn, server_process  # noqa: F401  (fixtures)
