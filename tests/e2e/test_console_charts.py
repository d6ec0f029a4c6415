"""The console's charts over HTTP: known traffic in, the same numbers out.

A fresh pool gets a known number of guests, authenticated identities, a merge, an unlink
and credentials for known roles; its page must chart exactly those, and the call chart must
have grown by exactly the calls the test made. The numbers are read from the table printed
under each chart (the same values the SVG draws).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import make_client
from tests.e2e.console_server import console_server, csrf_of, logged_in
from tests.e2e.test_observability import _unsigned_jwt
from tests.support.live import LiveServer

DEVELOPER = "login.charts.test"
AUTH = "arn:aws:iam::123456789012:role/charts-auth"
GUEST = "arn:aws:iam::123456789012:role/charts-guest"
ADMIN = "arn:aws:iam::123456789012:role/charts-admin"


class ChartTables(HTMLParser):
    """Cells of every `table.chart-data`, by chart and series: {chart: {series: [values]}}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.labels: dict[str, list[str]] = {}
        self._chart: str | None = None
        self._series: str | None = None
        self._row: list[str] = []
        self._cell: str | None = None
        self.svgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-chart"):
            self.svgs.append(str(a["data-chart"]))
        if tag == "table" and "chart-data" in (a.get("class") or ""):
            self._chart = a.get("data-chart")
            assert self._chart is not None
            self.tables[self._chart] = {}
            self.labels[self._chart] = []
        if self._chart and tag == "td":
            self._series = a.get("data-series")
            self._cell = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._chart and self._cell is not None:
            if self._series is None:
                self.labels[self._chart].append(self._cell.strip())
            else:
                self.tables[self._chart].setdefault(self._series, []).append(self._cell.strip())
            self._cell = None
        if tag == "table":
            self._chart = None


def charts_of(html: str) -> ChartTables:
    parser = ChartTables()
    parser.feed(html)
    return parser


def total(tables: ChartTables, chart: str, series: str) -> int:
    return sum(int(v) for v in tables.tables[chart].get(series, []))


def bars(tables: ChartTables, chart: str) -> dict[str, tuple[str, str]]:
    """Bar label → (count, share or errors)."""
    columns = tables.tables[chart]
    second = "share" if chart == "roles" else "errors"
    return dict(
        zip(
            tables.labels[chart],
            zip(columns.get("count", []), columns.get(second, []), strict=True),
            strict=True,
        )
    )


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    with console_server(database_url) as live:
        yield live


def _pool_page(pool_id: str, *rest: str) -> str:
    return "/".join(["/console/pools", quote(pool_id, safe=""), *(quote(r, safe="") for r in rest)])


def _drive(server: LiveServer) -> dict[str, Any]:
    cognito = make_client(server.url)
    unsigned = make_client(server.url, signed=False)
    pool_id = cognito.create_identity_pool(
        IdentityPoolName=f"charts_{uuid.uuid4().hex[:6]}",
        AllowUnauthenticatedIdentities=True,
        SupportedLoginProviders={"accounts.google.com": "charts-app"},
        DeveloperProviderName=DEVELOPER,
    )["IdentityPoolId"]
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": AUTH, "unauthenticated": GUEST},
        RoleMappings={
            "accounts.google.com": {
                "Type": "Rules",
                "AmbiguousRoleResolution": "AuthenticatedRole",
                "RulesConfiguration": {
                    "Rules": [
                        {"Claim": "hd", "MatchType": "Equals", "Value": "corp", "RoleARN": ADMIN}
                    ]
                },
            }
        },
    )
    guests = [unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"] for _ in range(3)]
    staff = {"accounts.google.com": _unsigned_jwt({"sub": uuid.uuid4().hex, "hd": "corp"})}
    outsider = {"accounts.google.com": _unsigned_jwt({"sub": uuid.uuid4().hex})}
    staff_id = unsigned.get_id(IdentityPoolId=pool_id, Logins=staff)["IdentityId"]
    outsider_id = unsigned.get_id(IdentityPoolId=pool_id, Logins=outsider)["IdentityId"]
    developers = {}
    for user in ("dev-a", "dev-b", "dev-c"):
        developers[user] = cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={DEVELOPER: user}
        )["IdentityId"]
    cognito.merge_developer_identities(
        SourceUserIdentifier="dev-b",
        DestinationUserIdentifier="dev-a",
        DeveloperProviderName=DEVELOPER,
        IdentityPoolId=pool_id,
    )
    cognito.unlink_developer_identity(
        IdentityId=developers["dev-c"],
        IdentityPoolId=pool_id,
        DeveloperProviderName=DEVELOPER,
        DeveloperUserIdentifier="dev-c",
    )
    for _ in range(2):
        unsigned.get_credentials_for_identity(IdentityId=staff_id, Logins=staff)
    unsigned.get_credentials_for_identity(IdentityId=outsider_id, Logins=outsider)
    unsigned.get_credentials_for_identity(IdentityId=guests[0])
    return {"pool_id": pool_id, "cognito": cognito}


def test_pool_charts_show_exactly_the_traffic_driven(server: LiveServer) -> None:
    world = _drive(server)
    with logged_in(server.url) as admin:
        for window in ("day", "hour"):
            page = admin.get(_pool_page(world["pool_id"]), params={"window": window})
            assert page.status_code == 200
            tables = charts_of(page.text)
            assert tables.svgs == ["identities", "roles", "calls", "operations"]
            assert total(tables, "identities", "guests") == 3
            assert total(tables, "identities", "authenticated") == 5  # 2 Google + 3 developer
            assert total(tables, "identities", "disabled") == 2  # one merge, one unlink
            # The staff identity's two calls chose the same role by the same rule: one event.
            assert bars(tables, "roles") == {
                ADMIN: ("1", "33%"),
                AUTH: ("1", "33%"),
                GUEST: ("1", "33%"),
            }
            expected_rows = 12 if window == "hour" else 24
            assert len(tables.tables["identities"]["guests"]) == expected_rows


def test_call_chart_grows_by_exactly_the_calls_made(server: LiveServer) -> None:
    cognito = make_client(server.url)
    pool_id = cognito.create_identity_pool(
        IdentityPoolName=f"calls_{uuid.uuid4().hex[:6]}", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    with logged_in(server.url) as admin:
        before = charts_of(admin.get("/console/pools", params={"window": "hour"}).text)
        for _ in range(4):
            cognito.describe_identity_pool(IdentityPoolId=pool_id)
        for _ in range(2):
            with pytest.raises(cognito.exceptions.ResourceNotFoundException):
                cognito.describe_identity_pool(IdentityPoolId=f"us-east-1:{uuid.uuid4()}")
        after = charts_of(admin.get("/console/pools", params={"window": "hour"}).text)

    def describe(tables: ChartTables) -> tuple[int, int]:
        count, errors = bars(tables, "operations").get("DescribeIdentityPool", ("0", "0"))
        return int(count), int(errors)

    assert describe(after)[0] - describe(before)[0] == 6
    assert describe(after)[1] - describe(before)[1] == 2
    assert total(after, "calls", "calls") - total(before, "calls", "calls") == 6
    assert total(after, "calls", "errors") - total(before, "calls", "errors") == 2


def test_pools_page_charts_every_pool_and_switches_windows(server: LiveServer) -> None:
    with logged_in(server.url) as admin:
        page = admin.get("/console/pools")
        assert charts_of(page.text).svgs == ["identities", "roles", "calls", "operations"]
        assert re.search(r'href="/console/pools\?window=hour"', page.text)
        assert 'class="on">last day<' in page.text
        hour = admin.get("/console/pools", params={"window": "hour"})
        assert 'class="on">last hour<' in hour.text
        # An unknown window is the default one, not an error.
        assert admin.get("/console/pools", params={"window": "<x>"}).status_code == 200
        csrf_of(page.text)
    # The charts are console pages: no session, no numbers.
    assert httpx.get(f"{server.url}/console/pools", timeout=10).status_code == 401
