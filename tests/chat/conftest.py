"""Fixtures for the chat tests: rooms made through the public services."""

from __future__ import annotations

import pytest


@pytest.fixture
def group_room(make_user):
    """`group_room(owner, *members, name=...)` → a group room made by `room_create_group`."""
    from chat import services

    def make(owner=None, *members, name: str = "测试群"):
        owner = owner or make_user()
        return services.room_create_group(
            creator=owner, name=name, member_ids=[member.pk for member in members]
        )

    return make


@pytest.fixture
def message_decorator():
    """Register a decorator (as the red packet app will) for one test only."""
    from chat import hooks

    added = []

    def register(decorator):
        hooks.register_message_decorator(decorator)
        added.append(decorator)
        return decorator

    yield register
    for decorator in added:
        hooks.message_decorators.remove(decorator)
