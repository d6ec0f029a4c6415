"""What the operator declares about roles: which may call admin operations, which STS may grant.

There is no IAM in idpool, so a role's rights are whatever the operator writes in the roles
file (`--roles-file`). Two questions are answered here, and nowhere else:

* May credentials vended for role R call the control-plane (admin) operation O? Only when R's
  entry lists O in `admin_operations`. Default: no role may call any admin operation, because
  in AWS identity-pool roles essentially never hold `cognito-identity:*` admin rights.
* May a web-identity token with audience `aud` and `amr` assume R through idpool's STS
  (beyond the pool's own roles)? Only when R's `trust` names that audience and, when it lists
  `amr` values, the token carries one of them. These mirror the IAM trust-policy conditions
  `cognito-identity.amazonaws.com:aud` (StringEquals) and `:amr` (ForAnyValue:StringLike).

```yaml
roles:
  - role_arn: arn:aws:iam::123456789012:role/ci-reader
    admin_operations: [DescribeIdentityPool, ListIdentities]
    trust:
      aud: ["us-east-1:6d8f…"]
      amr: [authenticated]
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from idpool.domain.errors import AccessDeniedException
from idpool.domain.ids import account_of_role, is_region, pool_arn, region_of
from idpool.domain.records import VendedSession

_ROLE_KEYS = frozenset({"role_arn", "admin_operations", "trust"})
_TRUST_KEYS = frozenset({"aud", "amr"})


class RolesFileError(ValueError):
    """A roles file that cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True, slots=True)
class DeclaredRole:
    role_arn: str
    admin_operations: frozenset[str] = frozenset()
    trust_aud: frozenset[str] = frozenset()
    trust_amr: tuple[str, ...] = ()

    def trusts(self, aud: str, amr: Sequence[str]) -> bool:
        if aud not in self.trust_aud:
            return False
        if not self.trust_amr:
            return True
        return any(fnmatchcase(value, pattern) for value in amr for pattern in self.trust_amr)


class RolePolicy:
    """The operator's role declarations; an empty policy denies every admin call."""

    def __init__(self, roles: Iterable[DeclaredRole] = ()) -> None:
        self._roles = {role.role_arn: role for role in roles}

    def __len__(self) -> int:
        return len(self._roles)

    def role(self, role_arn: str) -> DeclaredRole | None:
        return self._roles.get(role_arn)

    def trusted(self, role_arn: str, aud: str, amr: Sequence[str]) -> bool:
        role = self._roles.get(role_arn)
        return role is not None and role.trusts(aud, amr)

    def check_admin(
        self,
        session: VendedSession,
        operation: str,
        params: Mapping[str, Any],
        region: str | None,
    ) -> None:
        """Raise AWS's AccessDeniedException unless the role's allow-list names `operation`."""
        role = self._roles.get(session.role_arn)
        # A pool may name another account's role; only a role of the pool's own account may be
        # granted that account's admin operations, or one tenant could borrow another's grant.
        same_account = session.role_account == session.account_id
        if role is not None and same_account and operation in role.admin_operations:
            return
        raise AccessDeniedException(
            f"User: {session.assumed_role_arn} is not authorized to perform: "
            f"cognito-identity:{operation} on resource: {_resource(session, params, region)} "
            f"because no identity-based policy allows the cognito-identity:{operation} action"
        )


def _resource(session: VendedSession, params: Mapping[str, Any], region: str | None) -> str:
    """The ARN IAM would evaluate: the named pool, the tagged resource, or every pool."""
    resource_arn = params.get("ResourceArn")
    if isinstance(resource_arn, str):
        return resource_arn
    pool_id = params.get("IdentityPoolId")
    if isinstance(pool_id, str) and is_region(region_of(pool_id)):
        return pool_arn(region_of(pool_id), session.account_id, pool_id)
    where = region or region_of(session.pool_id)
    return f"arn:aws:cognito-identity:{where}:{session.account_id}:identitypool/*"


def load_role_policy(document: Any, admin_operations: frozenset[str]) -> RolePolicy:
    """Validate a parsed roles document (`{roles: [...]}`); every problem is a RolesFileError."""
    if document is None:
        return RolePolicy()
    if not isinstance(document, dict) or set(document) - {"roles"}:
        raise RolesFileError("the roles file must be a mapping with one key, 'roles'")
    items = document.get("roles")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise RolesFileError("'roles' must be a list")
    roles: list[DeclaredRole] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        role = _role(index, item, admin_operations)
        if role.role_arn in seen:
            raise RolesFileError(f"roles[{index}]: {role.role_arn} is declared twice")
        seen.add(role.role_arn)
        roles.append(role)
    return RolePolicy(roles)


def _strings(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RolesFileError(f"{where} must be a list of non-empty strings")
    return list(value)


def _role(index: int, item: Any, admin_operations: frozenset[str]) -> DeclaredRole:
    where = f"roles[{index}]"
    if not isinstance(item, dict):
        raise RolesFileError(f"{where} must be a mapping")
    unknown = sorted(set(map(str, item)) - _ROLE_KEYS)
    if unknown:
        raise RolesFileError(f"{where} has unknown keys {', '.join(unknown)}")
    arn = item.get("role_arn")
    if not isinstance(arn, str) or account_of_role(arn) is None:
        raise RolesFileError(f"{where}.role_arn must be an IAM role ARN, got {arn!r}")
    operations = _strings(f"{where}.admin_operations", item.get("admin_operations", []))
    bad = sorted(set(operations) - admin_operations)
    if bad:
        raise RolesFileError(
            f"{where}.admin_operations: {', '.join(bad)} is not an admin operation of "
            "cognito-identity"
        )
    trust = item.get("trust")
    aud: list[str] = []
    amr: list[str] = []
    if trust is not None:
        if not isinstance(trust, dict) or set(map(str, trust)) - _TRUST_KEYS:
            raise RolesFileError(f"{where}.trust must be a mapping of 'aud' and 'amr'")
        aud = _strings(f"{where}.trust.aud", trust.get("aud"))
        amr = _strings(f"{where}.trust.amr", trust.get("amr", []))
    return DeclaredRole(arn, frozenset(operations), frozenset(aud), tuple(amr))
