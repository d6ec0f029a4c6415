"""SAML logins end to end: boto3 → GetId / GetCredentialsForIdentity → a real STS (moto).

Trust mode is off; the SAML IdP signs real responses with its own certificate. A valid login
gets credentials for the role its assertion names (STS says which role it assumed); every
assertion that breaks one of AWS's rules is refused with NotAuthorizedException (400), forged
signatures included, and at `--log-level debug` nothing of the assertion reaches the log.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.e2e.test_pools import error_of
from tests.support.idp import SamlIdentityProvider
from tests.support.live import live_server, settings_for_tests
from tests.support.saml_edits import (
    FORGERIES,
    audience_restrictions,
    drop_confirmation_attribute,
    forged,
    issued_at,
    no_expiry,
    recipient,
    two_confirmations,
)
from tests.support.serve_process import ServerProcess, idpool_serve
from tests.support.sts import moto_sts

ACCOUNT = "123456789012"
CORP = f"arn:aws:iam::{ACCOUNT}:saml-provider/Corp"
# Another account's provider pinning the same certificate under another entityID.
OTHER = "arn:aws:iam::210987654321:saml-provider/Other"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
DEV = f"arn:aws:iam::{ACCOUNT}:role/saml-dev"
OPS = f"arn:aws:iam::{ACCOUNT}:role/saml-ops"
FOREIGN = "arn:aws:iam::999999999999:role/saml-admin"


@dataclass(frozen=True)
class Saml:
    public: Any
    pool: str
    idp: SamlIdentityProvider
    sts_url: str


def providers_yaml(idp: SamlIdentityProvider, path: Path) -> Path:
    pem = "\n".join("      " + line for line in idp.certificate_pem.strip().splitlines())
    path.write_text(
        "saml_providers:\n"
        f"  {CORP}:\n    metadata: {json.dumps(idp.metadata())}\n"
        f"  {OTHER}:\n    entity_id: https://other-idp.example.com\n    certificate: |\n{pem}\n"
    )
    return path


@pytest.fixture(scope="module")
def saml(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Saml]:
    idp = SamlIdentityProvider()
    providers = providers_yaml(idp, tmp_path_factory.mktemp("saml") / "providers.yaml")
    with moto_sts() as sts_url:
        settings = settings_for_tests(
            database_url,
            trust_mode=False,
            providers_file=str(providers),
            credential_mode="sts",
            sts_endpoint=sts_url,
        )
        with live_server(settings) as live:
            admin = make_client(live.url, aws_access_key_id=ACCOUNT)
            pool = admin.create_identity_pool(
                IdentityPoolName="saml",
                AllowUnauthenticatedIdentities=False,
                SamlProviderARNs=[CORP, OTHER],
            )["IdentityPoolId"]
            # No default authenticated role: credentials come only from the assertion's roles.
            yield Saml(make_client(live.url, signed=False), pool, idp, sts_url)


def response(s: Saml, name_id: str, *roles: str, **kw: Any) -> str:
    attributes = {ROLE_ATTRIBUTE: list(roles or (f"{DEV},{CORP}",)), "department": ["eng"]}
    return s.idp.response(name_id, now=time.time(), attributes=attributes, **kw)


def assumed_role(s: Saml, credentials: dict[str, Any]) -> str:
    sts = boto3.client(
        "sts",
        endpoint_url=s.sts_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return str(sts.get_caller_identity()["Arn"])


def credentials(s: Saml, token: str, provider: str = CORP, **kw: Any) -> dict[str, Any]:
    logins = {provider: token}
    identity = s.public.get_id(IdentityPoolId=s.pool, Logins=logins)["IdentityId"]
    out = s.public.get_credentials_for_identity(IdentityId=identity, Logins=logins, **kw)
    assert out["IdentityId"] == identity
    return dict(out["Credentials"])


def refusal(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    return error_of(exc)


def test_saml_login_gets_credentials_for_the_assertions_role(saml: Saml) -> None:
    user = f"saml-{uuid.uuid4().hex[:8]}@example.com"
    creds = credentials(saml, response(saml, user))
    assert creds["AccessKeyId"] and creds["SessionToken"]
    assert ":assumed-role/saml-dev/" in assumed_role(saml, creds)
    # A fresh assertion for the same NameID finds the same identity.
    ids = {
        saml.public.get_id(IdentityPoolId=saml.pool, Logins={CORP: response(saml, user)})[
            "IdentityId"
        ]
        for _ in range(2)
    }
    assert len(ids) == 1


def test_several_roles_the_client_chooses_with_custom_role_arn(saml: Saml) -> None:
    token = response(saml, "chooser", f"{DEV},{CORP}", f"{CORP},{OPS}")
    creds = credentials(saml, token, CustomRoleArn=OPS)
    assert ":assumed-role/saml-ops/" in assumed_role(saml, creds)
    code, message, status = refusal(lambda: credentials(saml, token))
    assert (code, status) == ("NotAuthorizedException", 400)
    assert message.endswith("choose one with CustomRoleArn.")
    code, _, status = refusal(lambda: credentials(saml, token, CustomRoleArn=FOREIGN))
    assert (code, status) == ("NotAuthorizedException", 400)


@pytest.mark.parametrize(
    "roles",
    [
        (f"{FOREIGN},{CORP}",),  # a role of another account than the pool's
        (f"{DEV},{OTHER}",),  # a pair for another provider than the one presented under
    ],
    ids=["other account", "other provider"],
)
def test_roles_not_usable_here_give_no_credentials(saml: Saml, roles: tuple[str, ...]) -> None:
    token = response(saml, "no-role", *roles)
    code, message, status = refusal(lambda: credentials(saml, token))
    assert (code, status) == ("NotAuthorizedException", 400)
    assert message == f"The assertion has no role for {CORP} in this account."


ONE_CONFIRMATION = (
    "Invalid login token. The assertion needs exactly one SubjectConfirmation whose "
    "SubjectConfirmationData has NotOnOrAfter and Recipient."
)
BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."


def _year_old_without_expiry(assertion: Any) -> None:
    issued_at(time.time() - 365 * 86400)(assertion)
    no_expiry(assertion)


ATTACKS: dict[str, tuple[dict[str, Any], str]] = {
    "no NotOnOrAfter": (
        {"edit": drop_confirmation_attribute("NotOnOrAfter")},
        ONE_CONFIRMATION,
    ),
    "no Recipient": ({"edit": drop_confirmation_attribute("Recipient")}, ONE_CONFIRMATION),
    "two SubjectConfirmations": ({"edit": two_confirmations}, ONE_CONFIRMATION),
    "wrong Recipient": (
        {"edit": recipient("https://sp.example.com/acs")},
        "Invalid login token. Recipient is not the AWS sign-in endpoint.",
    ),
    "year-old IssueInstant, no expiry": ({"edit": _year_old_without_expiry}, ONE_CONFIRMATION),
    "old IssueInstant, far expiry": (
        {"edit": issued_at(time.time() - 3600), "lifetime": 86400},
        "Invalid login token. Token expired:",
    ),
    "future IssueInstant": (
        {"edit": issued_at(time.time() + 3600)},
        "Invalid login token. Token is not valid yet: IssueInstant",
    ),
    "second AudienceRestriction for another SP": (
        {
            "edit": audience_restrictions(
                ["https://signin.aws.amazon.com/saml"], ["https://other-sp.example.com"]
            )
        },
        "Token is not from a supported provider of this identity pool.",
    ),
    "malformed Role value": (
        {"attributes": {ROLE_ATTRIBUTE: [f"{DEV},{CORP}", "not-an-arn"]}},
        "Invalid login token. Each https://aws.amazon.com/SAML/Attributes/Role value",
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_assertions_breaking_awss_rules_are_refused(saml: Saml, attack: str) -> None:
    options, message = ATTACKS[attack]
    token = saml.idp.response("victim", now=time.time(), **options)
    code, text, status = refusal(
        lambda: saml.public.get_id(IdentityPoolId=saml.pool, Logins={CORP: token})
    )
    assert (code, status) == ("NotAuthorizedException", 400)
    assert text.startswith(message)


def test_assertion_of_one_provider_is_refused_under_another(saml: Saml) -> None:
    """OTHER pins the same certificate; the assertion's Issuer is CORP's entityID."""
    token = response(saml, "crossover", f"{DEV},{OTHER}")
    code, text, status = refusal(
        lambda: saml.public.get_id(IdentityPoolId=saml.pool, Logins={OTHER: token})
    )
    assert (code, status, text) == (
        "NotAuthorizedException",
        400,
        "Invalid login token. Issuer not present in specified provider",
    )


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_signatures_are_refused_not_500(saml: Saml, forgery: str) -> None:
    token = forged(forgery, response(saml, "admin"))
    code, text, status = refusal(
        lambda: saml.public.get_id(IdentityPoolId=saml.pool, Logins={CORP: token})
    )
    assert (code, status, text) == ("NotAuthorizedException", 400, BAD_SIGNATURE)


# --- logs -------------------------------------------------------------------------------------


@pytest.fixture
def debug_saml_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, SamlIdentityProvider]]:
    idp = SamlIdentityProvider()
    providers = providers_yaml(idp, tmp_path / "providers.yaml")
    with idpool_serve(
        f"--database-url=sqlite:///{tmp_path / 'saml-logs.sqlite3'}",
        f"--providers-file={providers}",
        "--key-secret=saml-log-test",
        "--log-level=debug",
        "--no-throttle",
    ) as server:
        yield server, idp


def test_debug_level_saml_login_logs_no_assertion_content(
    debug_saml_server: tuple[ServerProcess, SamlIdentityProvider],
) -> None:
    server, idp = debug_saml_server
    admin = make_client(server.url, aws_access_key_id=ACCOUNT)
    public = make_client(server.url, signed=False)
    pool = admin.create_identity_pool(
        IdentityPoolName="saml-logs", AllowUnauthenticatedIdentities=False, SamlProviderARNs=[CORP]
    )["IdentityPoolId"]
    name_id = "nameid-must-not-be-logged@example.com"
    department = "department-must-not-be-logged"
    role_value = f"{DEV},{CORP}"
    token = idp.response(
        name_id,
        now=time.time(),
        attributes={ROLE_ATTRIBUTE: [role_value], "department": [department]},
    )
    logins = {CORP: token}
    identity = public.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    creds = public.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    assert creds["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(ClientError):
        public.get_id(IdentityPoolId=pool, Logins={CORP: forged("empty SignatureValue", token)})

    server.process.terminate()
    server.process.wait(10)
    output = server.output
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {"GetId", "GetCredentialsForIdentity"} <= {r.get("operation") for r in records}
    assert any(r["level"] == "debug" for r in records), "the server did not log at debug"
    leaked = [
        name
        for name, value in {
            "NameID": name_id,
            "attribute value": department,
            "Role value": role_value,
            "assertion XML": "SubjectConfirmation",
            "SAML response": token[:64],
        }.items()
        if value in output
    ]
    assert not leaked, f"found in the logs: {leaked}"
