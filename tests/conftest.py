"""Shared fixtures: a live idpool on a free port per backend, boto3 clients, raw HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

if TYPE_CHECKING:
    from tests.support.live import LiveServer


BACKENDS = ["sqlite", "postgresql"]
if os.environ.get("IDPOOL_TEST_BACKENDS"):
    BACKENDS = os.environ["IDPOOL_TEST_BACKENDS"].split(",")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop PostgreSQL run after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("outage") is not None)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'idpool.sqlite3'}"
    else:
        from tests.support.postgres import postgres_schema

        with postgres_schema() as url:
            yield url


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[LiveServer]:
    """One server per backend for the session; every test makes its own pools."""
    from tests.support.live import live_server, settings_for_tests

    with live_server(settings_for_tests(database_url)) as live:
        yield live


def make_client(url: str, *, signed: bool = True, validate: bool = True, **kw: Any) -> Any:
    config = Config(
        parameter_validation=validate,
        retries={"total_max_attempts": 1, "mode": "standard"},
        **({"signature_version": UNSIGNED} if not signed else {}),
    )
    return boto3.client(
        "cognito-identity",
        endpoint_url=url,
        region_name=kw.pop("region_name", "us-east-1"),
        aws_access_key_id=kw.pop("aws_access_key_id", "AKIAIDPOOLTEST000001"),
        aws_secret_access_key=kw.pop("aws_secret_access_key", "secret"),
        config=config,
        **kw,
    )


@pytest.fixture(scope="session")
def cognito(server: LiveServer) -> Any:
    return make_client(server.url)


@pytest.fixture(scope="session")
def unsigned(server: LiveServer) -> Any:
    return make_client(server.url, signed=False)


@pytest.fixture(scope="session")
def loose(server: LiveServer) -> Any:
    """A client that sends whatever it is given, to reach server-side validation."""
    return make_client(server.url, validate=False)


@pytest.fixture
def raw(server: LiveServer) -> Iterator[Callable[..., httpx.Response]]:
    with httpx.Client(base_url=server.url, timeout=10) as client:

        def post(
            operation: str | None, body: bytes | str | dict[str, Any], **headers: str
        ) -> httpx.Response:
            import json

            content = json.dumps(body) if isinstance(body, dict) else body
            sent = {"content-type": "application/x-amz-json-1.1", **headers}
            if operation is not None:
                sent["x-amz-target"] = f"AWSCognitoIdentityService.{operation}"
            return client.post("/", content=content, headers=sent)

        yield post


@pytest.fixture
def pool_factory(cognito: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create pools for one test and delete them afterwards (LocalStack-style factory)."""
    created: list[str] = []

    def create(**kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "IdentityPoolName": "test_pool",
            "AllowUnauthenticatedIdentities": True,
        }
        params.update(kwargs)
        pool = cognito.create_identity_pool(**params)
        created.append(pool["IdentityPoolId"])
        return dict(pool)

    yield create
    for pool_id in created:
        try:
            cognito.delete_identity_pool(IdentityPoolId=pool_id)
        except cognito.exceptions.ResourceNotFoundException:
            pass


ROOT = Path(__file__).resolve().parents[1]
