"""Issue 22: property-based fuzzing of the API from its own OpenAPI document (schemathesis):
whatever a client sends that the document allows, or nearly allows, the server answers with no
5xx.  A modest number of examples per operation keeps it quick; writes run too (on a throwaway
catalogue).  Each operation's cases are drawn by Hypothesis from schemathesis' strategy (its
pytest loader does not run on this pytest)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from retrovue.web.app import create_app
from retrovue.web.settings import ServeSettings
from tests.serve_helpers import build_catalogue

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}
EXAMPLES = 12  # per operation


def test_no_request_makes_the_server_fail(rv, db_url, engine, tmp_path):
    cat = build_catalogue(rv, db_url, engine, tmp_path)
    # with a token (the read-write one): the ASGI test client's Host is "testserver", which
    # only a server that checks tokens instead of loopback Host names serves
    app = create_app(ServeSettings(db_url=db_url, config_file=cat.config, token=TOKEN))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error], headers=AUTH)

        fuzz()
