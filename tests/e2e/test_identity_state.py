"""Disabled, merged-away and deleted identities get nothing, through boto3 on both stores.

An identity loses its last login (UnlinkDeveloperIdentity, UnlinkIdentity), is merged away
(MergeDeveloperIdentities, GetId with logins of two identities) or is deleted. A token idpool
issued for it earlier still carries a valid signature for hours, so the identity's state is
checked when the token is used: presented under `cognito-identity.amazonaws.com` (unsigned,
as any client would), it is refused with AWS's `Access to Identity '<id>' is forbidden.`
(deleted: `Identity '<id>' not found.`), whichever identity the call names; a merged-away
identity's token never resolves to the survivor. Each test first shows the token working, so
the refusal is the state change and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

OWN = "cognito-identity.amazonaws.com"
DEV = "login.state.app"
FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
ROLE = "arn:aws:iam::123456789012:role/state"


@pytest.fixture
def pool(cognito: Any, pool_factory: Any) -> str:
    pool_id = str(
        pool_factory(
            DeveloperProviderName=DEV, SupportedLoginProviders={FB: "app", GOOGLE: "client"}
        )["IdentityPoolId"]
    )
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool_id, Roles={"authenticated": ROLE, "unauthenticated": ROLE}
    )
    return pool_id


def forbidden(identity_id: str) -> tuple[str, str, int]:
    return ("NotAuthorizedException", f"Access to Identity '{identity_id}' is forbidden.", 400)


def not_found(identity_id: str) -> tuple[str, str, int]:
    return ("ResourceNotFoundException", f"Identity '{identity_id}' not found.", 400)


def developer_token(cognito: Any, pool: str, user: str) -> tuple[str, str]:
    got = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user})
    return str(got["IdentityId"]), str(got["Token"])


def assert_token_works(unsigned: Any, identity_id: str, token: str) -> str:
    """The token mints the next one and credentials; returns the minted token."""
    minted = unsigned.get_open_id_token(IdentityId=identity_id, Logins={OWN: token})
    assert minted["IdentityId"] == identity_id
    vended = unsigned.get_credentials_for_identity(IdentityId=identity_id, Logins={OWN: token})
    assert vended["IdentityId"] == identity_id
    return str(minted["Token"])


def assert_refused(
    unsigned: Any, identity_id: str, token: str, expected: tuple[str, str, int]
) -> None:
    """Every public operation that takes the token refuses it, for the identity it names."""
    calls = [
        lambda: unsigned.get_open_id_token(IdentityId=identity_id, Logins={OWN: token}),
        lambda: unsigned.get_credentials_for_identity(IdentityId=identity_id, Logins={OWN: token}),
        lambda: unsigned.unlink_identity(
            IdentityId=identity_id, Logins={OWN: token}, LoginsToRemove=[FB]
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == expected


def assert_never_resolves_to(
    unsigned: Any, survivor: str, loser: str, token: str, expected: tuple[str, str, int]
) -> None:
    """The loser's token, presented for the survivor, is refused instead of answering it."""
    with pytest.raises(ClientError) as exc:
        unsigned.get_open_id_token(IdentityId=survivor, Logins={OWN: token})
    assert error_of(exc) == expected
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=survivor, Logins={OWN: token})
    assert error_of(exc) == expected
    with pytest.raises(ClientError) as exc:
        unsigned.unlink_identity(IdentityId=survivor, Logins={OWN: token}, LoginsToRemove=[FB])
    assert error_of(exc) == expected


def test_developer_unlink_of_the_last_user(cognito: Any, unsigned: Any, pool: str) -> None:
    identity, token = developer_token(cognito, pool, "leaving")
    minted = assert_token_works(unsigned, identity, token)
    cognito.unlink_developer_identity(
        IdentityId=identity,
        IdentityPoolId=pool,
        DeveloperProviderName=DEV,
        DeveloperUserIdentifier="leaving",
    )
    for held in (token, minted):
        assert_refused(unsigned, identity, held, forbidden(identity))
    # No logins at all: a disabled identity is no guest either.
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=identity)
    assert error_of(exc) == forbidden(identity)


def test_unlink_identity_of_the_last_login(cognito: Any, unsigned: Any, pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=pool, Logins={FB: "last-login"})["IdentityId"]
    token = unsigned.get_open_id_token(IdentityId=identity, Logins={FB: "last-login"})["Token"]
    minted = assert_token_works(unsigned, identity, token)
    unsigned.unlink_identity(IdentityId=identity, Logins={FB: "last-login"}, LoginsToRemove=[FB])
    for held in (token, minted):
        assert_refused(unsigned, identity, held, forbidden(identity))


def test_developer_merge(cognito: Any, unsigned: Any, pool: str) -> None:
    loser, token = developer_token(cognito, pool, "merged-away")
    survivor, survivor_token = developer_token(cognito, pool, "keeper")
    assert_token_works(unsigned, loser, token)
    merged = cognito.merge_developer_identities(
        SourceUserIdentifier="merged-away",
        DestinationUserIdentifier="keeper",
        DeveloperProviderName=DEV,
        IdentityPoolId=pool,
    )
    assert merged["IdentityId"] == survivor
    assert_refused(unsigned, loser, token, forbidden(loser))
    assert_never_resolves_to(unsigned, survivor, loser, token, forbidden(loser))
    # The survivor's own token is untouched.
    assert_token_works(unsigned, survivor, survivor_token)


def test_get_id_merge(cognito: Any, unsigned: Any, pool: str) -> None:
    survivor = unsigned.get_id(IdentityPoolId=pool, Logins={FB: "merge-fb"})["IdentityId"]
    loser = unsigned.get_id(IdentityPoolId=pool, Logins={GOOGLE: "merge-g"})["IdentityId"]
    token = unsigned.get_open_id_token(IdentityId=loser, Logins={GOOGLE: "merge-g"})["Token"]
    assert_token_works(unsigned, loser, token)
    merged = unsigned.get_id(IdentityPoolId=pool, Logins={FB: "merge-fb", GOOGLE: "merge-g"})
    assert merged["IdentityId"] == survivor
    assert_refused(unsigned, loser, token, forbidden(loser))
    assert_never_resolves_to(unsigned, survivor, loser, token, forbidden(loser))
    # The survivor, proven by its logins, keeps working.
    ok = unsigned.get_credentials_for_identity(IdentityId=survivor, Logins={GOOGLE: "merge-g"})
    assert ok["IdentityId"] == survivor


def test_delete_identities(cognito: Any, unsigned: Any, pool: str) -> None:
    deleted, token = developer_token(cognito, pool, "deleted-user")
    other, _ = developer_token(cognito, pool, "bystander")
    assert_token_works(unsigned, deleted, token)
    cognito.delete_identities(IdentityIdsToDelete=[deleted])
    assert_refused(unsigned, deleted, token, not_found(deleted))
    assert_never_resolves_to(unsigned, other, deleted, token, not_found(deleted))


def test_a_disabled_identity_named_with_a_valid_login_is_forbidden(
    cognito: Any, unsigned: Any, pool: str
) -> None:
    """Naming the merged-away identity is refused even with a login its survivor owns."""
    survivor = unsigned.get_id(IdentityPoolId=pool, Logins={FB: "named-fb"})["IdentityId"]
    loser = unsigned.get_id(IdentityPoolId=pool, Logins={GOOGLE: "named-g"})["IdentityId"]
    unsigned.get_id(IdentityPoolId=pool, Logins={FB: "named-fb", GOOGLE: "named-g"})
    for call in (unsigned.get_open_id_token, unsigned.get_credentials_for_identity):
        with pytest.raises(ClientError) as exc:
            call(IdentityId=loser, Logins={FB: "named-fb"})
        assert error_of(exc) == forbidden(loser)
    with pytest.raises(ClientError) as exc:
        cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, IdentityId=loser, Logins={DEV: "named-dev"}
        )
    assert error_of(exc) == forbidden(loser)
    assert unsigned.get_id(IdentityPoolId=pool, Logins={FB: "named-fb"})["IdentityId"] == survivor
