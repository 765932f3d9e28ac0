"""Settings for the test suite: the project's settings, read from the same environment,
with a fast password hasher (Django's advice for tests) and no persistent connections
(test servers run in threads whose connections must not outlive a test)."""

import os

os.environ.setdefault("PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
os.environ.setdefault("CONN_MAX_AGE", "0")

from redpacket.settings import *  # noqa: F403

# pytest-django runs with DEBUG off; the browser tests still need static files served
# from the source folders (no collectstatic in a test run).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Nothing is in flight when a test checks the invariants: compare every statement row.
RECONCILE_SETTLE_SECONDS = 0
