"""The API against its own OpenAPI schema (schemathesis; `make api-fuzz`, run by CI after
the tests): every operation with generated valid and invalid input, then stateful runs
along the links schemathesis infers between operations (a room's id from POST /api/rooms
into its messages, a packet's id into open/result …). No answer may be a 5xx, and every
documented answer must match its schema.

Bounded: a few examples per operation (API_FUZZ_EXAMPLES, default 25) and a few short
stateful scenarios, in-process against the test database (WSGI), as a user who has a
card, a PIN and change.
"""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.wallet.conftest import bind_card, fund  # noqa: F401

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The raw WSGI calls would close the test's connection around each request (Django's
    own test client switches this off the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller(make_user, fund):  # noqa: F811
    from chat import services as chat_services
    from redpacket.accounts.services import token_issue

    user = make_user()
    fund(user, 1_000_000)
    chat_services.room_create_group(creator=user, name="fuzz", member_ids=[])
    return {"Authorization": f"Token {token_issue(user=user).key}"}


# Loaded at collection: serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


# schemathesis's own pytest integration does not run under pytest 9 (it rewrites a node
# id pytest no longer has), so each operation's strategy is driven with hypothesis here.
# An invalid schema (an `Err`, which has no `ok`) fails here, at collection.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS]
)
def test_every_operation_answers_within_its_schema(operation, caller):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def call(case):
        headers = {**caller, "Idempotency-Key": uuid.uuid4().hex}
        statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    statuses: list[int] = []
    call()
    assert statuses, "no request was made"


def test_stateful_sequences_never_500(caller):
    machine = schema.as_state_machine()

    statuses: list[int] = []

    class Workflow(machine):
        def after_call(self, response, case):
            statuses.append(response.status_code)

        def get_call_kwargs(self, case):
            return {"headers": {**caller, "Idempotency-Key": uuid.uuid4().hex}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=max(EXAMPLES // 2, 3),
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert len(statuses) >= 10, statuses
    print(f"stateful: {len(statuses)} calls, statuses {sorted(set(statuses))}")
