"""Settings for the test suite: the project's settings, read from the same environment,
in development mode (DEBUG=1: the development secrets, the sandbox bank and SMS), with a
fast password hasher (Django's advice for tests) and no persistent or pooled connections
(test servers run in threads whose connections must not outlive a test; the pool is
tested against its own server process, tests/test_connections.py)."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("CONN_MAX_AGE", "0")
os.environ.setdefault("DB_POOL_MAX_SIZE", "0")

from redpacket.settings import *  # noqa: F403

# pytest-django runs with DEBUG off; the browser tests still need static files served
# from the source folders (no collectstatic in a test run).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Nothing is in flight when a test checks the invariants: compare every statement row.
RECONCILE_SETTLE_SECONDS = 0

# A "replica" alias on the test database itself (Django's test mirror), for the history
# reads' routing tests (tests/test_replica.py): they turn REPLICA_READS on; every other
# test reads and writes the primary only, as without DATABASE_REPLICA_URL.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {  # noqa: F405
        **DATABASES["default"],  # noqa: F405
        "TEST": {"MIRROR": "default"},
    }
REPLICA_READS = False
