"""All service operations behind one object, built once by app.py and handed to the wire layer;
and pool administration alone, for seeding."""

from __future__ import annotations

from idpool.service.admin import AdminQueries
from idpool.service.context import PoolDeps, ServiceDeps
from idpool.service.credentials import CredentialService
from idpool.service.developer import DeveloperService
from idpool.service.identities import IdentityService
from idpool.service.pools import PoolService
from idpool.service.roles import RoleService
from idpool.service.tokens import TokenService


class PoolAdministration:
    """Pools and roles alone: what seeding runs, with no verifier, signer or vendor."""

    def __init__(self, deps: PoolDeps) -> None:
        self.pools = PoolService(deps)
        self.roles = RoleService(deps)


class IdentityPoolService(PoolAdministration):
    """`admin` is the console's cross-account reads, over a store that offers them (the
    operations' ServiceDeps.store offers only the API's ports); None where no console runs."""

    def __init__(self, deps: ServiceDeps, admin: AdminQueries | None = None) -> None:
        super().__init__(deps)
        self.deps = deps
        self.admin = admin
        self.identities = IdentityService(deps)
        self.tokens = TokenService(deps, self.identities)
        self.credentials = CredentialService(deps, self.identities, self.tokens)
        self.developer = DeveloperService(deps, self.tokens)
