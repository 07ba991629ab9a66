"""Real servers the tests drive: MongoDB, gunicorn workers."""
