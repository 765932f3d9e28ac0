"""A strict Content-Security-Policy (issue #16 finding 6): the header on every page, no
inline script, style or event handler in any template, and the browser fixture really
catches a violation (so every browser test fails on one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, log_in, watch_csp

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/chat/", "/wallet/", "/api/docs/", "/admin/"]
)
def test_every_page_carries_a_strict_policy(client, make_user, path):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    response = client.get(path, follow=True)
    policy = _policy(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_no_template_has_inline_script_style_or_handlers():
    """Before: avatars drew their colour with style="…" and the language menu submitted
    with onchange="…"."""
    problems = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            attributes = match.group(1)
            if "src=" not in attributes and 'type="application/json"' not in attributes:
                problems.append(f"{template}: inline <script{attributes}>")
        if re.search(r"<style\b", text):
            problems.append(f"{template}: <style>")
        if re.search(r"\sstyle=\"", text):
            problems.append(f"{template}: style attribute")
        for handler in re.findall(r"\son[a-z]+=\"", text):
            problems.append(f"{template}: inline handler {handler.strip()}")
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_the_browser_fixture_catches_a_violation(live_asgi, make_user, _playwright):
    browser = _playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    violations: list[str] = []
    try:
        context = browser.new_context(base_url=live_asgi, locale="zh-CN")
        watch_csp(context, violations)
        page = context.new_page()
        user = make_user()
        log_in(page, user.username)
        assert violations == []  # our own pages are clean
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend',"
            ' \'<img src="/static/img/packet.svg" onload="window.pwned = 1">'
            '<div style="color: red">x</div>\')'
        )
        page.wait_for_timeout(300)
        assert page.evaluate("window.pwned") is None  # the handler never ran
        assert any("script-src" in v or "style-src" in v for v in violations), violations
    finally:
        browser.close()
