"""Property-based checks of every operation in /api/schema/: generated requests
never get a 5xx, and every answer conforms to the schema (status code, content
type, headers, body). Bounded and seeded so that runs repeat and stay short.

Behind ``slow``, a run with many more examples per operation, and stateful runs
that chain operations along the links schemathesis infers between them (create
a letter, then read, change and sign it; create a source, then sync it...)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, seed, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from letters import services as letter_services
from people.merging.merge import person_merge
from people.models import MatchJudgement
from tests.factories import make_letter, make_organization, make_signature, make_source

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 12
THOROUGH_EXAMPLES_PER_OPERATION = 100
STATEFUL_SCENARIOS = 100
STATEFUL_STEPS = 10


@pytest.fixture
def _connections_kept_across_requests():
    # Requests sent straight to the WSGI application would close the test's
    # connection, and its transaction, when they finish; Django's own test
    # client avoids that the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded from the running application when the tests are collected.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, database="none")


@pytest.fixture
def staff_token(staff_user, settings, _connections_kept_across_requests) -> str:
    # Generated traffic is far above the production rates; the throttles have
    # their own tests.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "100000/minute",
            "user": "100000/minute",
            "token": "100000/minute",
        },
    }
    letter = make_letter(title="Letter to OSTP", slug="ostp-ai-copyright-2025")
    letter_services.letter_target_set(
        letter=letter, organization=make_organization("OpenAI", kind="company"), role="subject"
    )
    make_source(letter, name="Variety", url="https://example.org/list.csv", format="csv")
    first = make_signature(letter, "Ava DuVernay").person
    second = make_signature(letter, "Ava Duvernay Marie").person
    MatchJudgement.objects.create(person_a=first, person_b=second, score=0.8)
    person_merge(survivor=first, merged=make_signature(name="A. DuVernay").person)
    return Token.objects.create(user=staff_user).key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@seed(20261122)
def test_no_generated_request_gets_a_server_error_or_an_off_schema_answer(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=THOROUGH_EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@seed(20261129)
def test_many_more_generated_requests_get_no_server_error_or_off_schema_answer(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS)


def import_the_whole_project() -> None:
    """Import every module of the project now. Hypothesis draws constants from
    the project's loaded modules; one imported on first use in the middle of a
    stateful run changes what later steps draw, which it reports as flaky."""
    for package in ("tracker", "letters", "people"):
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, f"{package}."
        ):
            if ".settings" not in module.name and ".migrations" not in module.name:
                importlib.import_module(module.name)


@pytest.mark.slow
def test_chained_operations_along_the_schema_s_links_get_no_server_error(staff_token):
    import_the_whole_project()
    base = schema.as_state_machine()
    assert base.schema.statistic.transitions.total > 0, "no links between operations to follow"

    class Workflows(base):  # type: ignore[misc,valid-type]
        # Each scenario starts from the same data: what one scenario created or
        # changed would otherwise steer the next one's steps, which Hypothesis
        # cannot replay and reports as flaky.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {staff_token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))

    Workflows.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            # The database carries over from one scenario to the next, so a
            # failing scenario cannot be replayed to shrink it: report it as found.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
