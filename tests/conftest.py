"""Test configuration shared by the whole suite.

The suite runs on whatever DATABASE_URL / REDIS_URL say: PostgreSQL + Redis in CI, the
embedded default (SQLite, local memory) otherwise. Tests that need a real service carry a
marker and are *skipped with the reason* when it is absent, never silently passed.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

# Django's ORM refuses to run while Playwright's sync API holds an event loop in the main
# thread; the test thread itself is still synchronous code. (Test settings: tests/settings.py.)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from django.conf import settings

TEST_PASSWORD = "pw-for-tests-1"  # make_user's default
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing_service(marker: str) -> str | None:
    if marker == "postgres" and not settings.USING_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    if marker == "celery" and (
        not settings.USING_POSTGRES or settings.CELERY_BROKER_URL.startswith("memory")
    ):
        return "needs PostgreSQL and a broker (REDIS_URL or CELERY_BROKER_URL) for a real worker"
    if marker == "browser":
        if not Path(CHROMIUM).exists():
            return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        try:
            import playwright  # noqa: F401
        except ImportError:
            return "needs the playwright package (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker in ("postgres", "redis", "celery", "browser"):
            if item.get_closest_marker(marker):
                reason = _missing_service(marker)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))
        if item.get_closest_marker("celery") and not item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Every test starts with an empty cache (and, on Redis, an empty test database),
    without the in-process packet gates of earlier tests (embedded default: ids repeat
    once a test's rows are rolled back) and without their system accounts."""
    from django.core.cache import cache

    from redpacket.packets.gate import packet_store
    from wallet.services import forget_accounts

    cache.clear()
    packet_store().clear()  # the in-process gate of the embedded default (Redis: no-op)
    forget_accounts()  # the system accounts' rows of earlier tests are gone
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    from redpacket.accounts.models import User

    counter = {"n": 0}

    def make(username: str | None = None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}_{int(time.time() * 1000) % 100000}"
        user = User.objects.create_user(
            username=username,
            password=extra.pop("password", TEST_PASSWORD),
            display_name=extra.pop("display_name", username.title()),
            **extra,
        )
        return user

    return make


@pytest.fixture
def auth_client(make_user):
    """An API client logged in with a token, and its user (`client.user`)."""
    from rest_framework.test import APIClient

    from redpacket.accounts.services import token_issue

    def make(user=None):
        user = user or make_user()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
        client.user = user
        return client

    return make


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def live_asgi(transactional_db):
    """The real ASGI application (HTTP + websockets) served by uvicorn on a free port,
    in a thread of this process, against the test database and channel layer. Static
    files come from WhiteNoise's finders (tests/settings.py)."""
    import uvicorn

    from redpacket.asgi import application

    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the ASGI test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


# Every Content-Security-Policy violation becomes a console error the fixture collects
# (Chromium also logs its own "Refused to …" line): an inline script, style or handler
# that slipped into a page fails the test that showed it.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _is_csp_violation(text: str) -> bool:
    return "CSP violation" in text or "Content Security Policy" in text


def watch_csp(context, violations: list[str]) -> None:
    """Collect into `violations` every CSP violation of every page of `context`."""

    def watch(page) -> None:
        page.on(
            "console",
            lambda message: (
                violations.append(f"{page.url}: {message.text}")
                if _is_csp_violation(message.text)
                else None
            ),
        )

    context.add_init_script(_CSP_LISTENER)
    context.on("page", watch)


@pytest.fixture
def new_page(browser, request):
    """Open a phone-sized page in a fresh browser context (one per user). The test fails
    if any page of it reported a Content-Security-Policy violation."""
    contexts = []
    violations: list[str] = []

    def make(
        base_url: str,
        *,
        width: int = 375,
        height: int = 812,
        locale: str = "zh-CN",
        timezone_id: str | None = None,
    ):
        context = browser.new_context(
            base_url=base_url,
            viewport={"width": width, "height": height},
            locale=locale,
            timezone_id=timezone_id,
        )
        context.set_default_timeout(10_000)
        watch_csp(context, violations)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture(scope="session")
def redis_nodes():
    """A 3-master Redis Cluster and two plain Redis shards of this session's own
    (tests/redis_nodes.py); skipped with the reason when redis-server is missing."""
    from tests.redis_nodes import missing_tools, start_nodes

    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    nodes = start_nodes()
    yield nodes
    nodes.stop()


@pytest.fixture
def cluster_redis(redis_nodes):
    """A redis-py cluster client on the (emptied) test Redis Cluster."""
    from redis.cluster import RedisCluster

    client = RedisCluster.from_url(redis_nodes.cluster_url)
    client.flushall()
    yield client
    client.close()


# The kinds a store fixture is parametrized over: the cluster kind is marked `cluster`.
STORE_KINDS = ["local", "redis", pytest.param("cluster", marks=pytest.mark.cluster)]


def store_of_kind(request, redis_store, local_store):
    """For a fixture parametrized over STORE_KINDS: an in-process store, one on the
    (emptied) Redis test database — skipped with its reason when there is no Redis — or
    one on the session's own Redis Cluster (tests/redis_nodes.py)."""
    if request.param == "cluster":
        return redis_store(redis=request.getfixturevalue("cluster_redis"))
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("needs Redis: set REDIS_URL=redis://...")
        from django.core.cache import cache

        cache.clear()
        return redis_store()
    return local_store()


def log_in(page, username: str, password: str = TEST_PASSWORD) -> None:
    """Log in through the login page as a person would, landing on the room list."""
    page.goto("/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/chat/")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under the git-ignored artifacts/ folder, or under SCREENSHOT_DIR
    (`SCREENSHOT_DIR=docs/screenshots` refreshes the ones the docs show)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() and shutil.which("chromium") is not None
