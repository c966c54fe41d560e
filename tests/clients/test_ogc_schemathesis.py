"""Schemathesis against the live server's own OpenAPI document (``/ogc/api``): for every operation it
documents, generated requests (valid and invalid parameters) get no 5xx, only documented status codes and
content types, and bodies that validate against the document's response schemas.

Stateless checks only, a few examples per operation (``MAX_EXAMPLES``), so the file runs in a minute or two;
requests carry the administrator's key (every collection readable). Failures are the server's: the
document and the answers disagree, or the server broke.
"""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app.ogc.collections import COLLECTIONS

MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid parameters, and invalid ones (→ 4xx)
#: the operations in groups a test each: the API's own documents, then each collection's
GROUPS = ["documents", *sorted(COLLECTIONS)]


@pytest.fixture(scope="session")
def ogc_openapi(live_ogc):
    return schemathesis.openapi.from_url(live_ogc.ogc + "/api", headers=live_ogc.headers(), timeout=60)


def _group(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "collections" else "documents"


def _exercise(operation, mode, live, statuses: list[int]) -> None:
    """Run Hypothesis over ``operation``'s generated cases (their statuses appended to ``statuses``);
    raises the first failure it finds."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        response = case.call(base_url=live.ogc, headers=live.headers(), timeout=120)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


def test_the_document_is_openapi_3_and_covers_every_collection(live_ogc):
    doc = requests.get(live_ogc.ogc + "/api", headers=live_ogc.headers(), timeout=60).json()
    assert doc["openapi"].startswith("3.0")
    for cid in COLLECTIONS:
        assert f"/collections/{cid}/items" in doc["paths"], cid
        assert f"/collections/{cid}/items/{{featureId}}" in doc["paths"], cid


@pytest.mark.parametrize("group", GROUPS)
def test_no_server_error_and_answers_match_the_document(ogc_openapi, live_ogc, group):
    """Schemathesis's pytest plugin (``schemathesis.pytest.from_fixture``) fails under pytest 9
    (``Function._nodeid``), so the operations are driven here with its strategies and its checks."""
    failures, ran, statuses = [], 0, []
    for result in ogc_openapi.get_all_operations():
        operation = result.ok()
        if _group(operation.path) != group:
            continue
        for mode in MODES:
            ran += 1
            try:
                _exercise(operation, mode, live_ogc, statuses)
            except Exception as exc:  # a check's failure group, or a transport error: all are reported
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: "
                                f"{type(exc).__name__}: {str(exc)[:1500]}")
    assert ran > 0, f"no operation of {group} in the document"
    assert not failures, "\n\n".join(failures)
    # it did reach the server both ways: answers (200) and refusals of invalid parameters (4xx)
    assert 200 in statuses and any(400 <= s < 500 for s in statuses), sorted(set(statuses))
