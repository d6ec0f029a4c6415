"""IAM OIDC provider ARNs and the issuer host/path they name: the one place for their rules.

An OIDC provider ARN is `arn:aws:iam::<account>:oidc-provider/<issuer host/path>`; its
resource is IAM's provider URL without `https://`. IAM's CreateOpenIDConnectProvider takes a
URL that "must begin with https://", may have path components but no query parameters, and
"should not contain a port number" (IAM API reference, CreateOpenIDConnectProvider `Url`,
at most 255 characters). idpool holds pool configuration to the same shape, because the
host/path is where login verification would fetch keys from: a public DNS name, no scheme,
port, userinfo, query or fragment, and never an IP literal or `localhost`. An issuer the
operator configured in the providers file is accepted as written (a local Keycloak on
`localhost:8080`), since the operator, not a pool's owner, decides what idpool may reach.
See docs/compatibility.md.
"""

from __future__ import annotations

import ipaddress
import re

OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(?P<issuer>.+)$")

# IAM's Url is at most 255 characters including "https://".
MAX_HOST_PATH = 255 - len("https://")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})+", re.IGNORECASE)
# RFC 3986 path characters, without ':' and '@' so nothing can read as a port or userinfo.
_PATH = re.compile(r"(/[A-Za-z0-9._~%!$&'()*+,;=-]*)*")


def oidc_issuer_of(arn: str) -> str | None:
    """The issuer host/path an OIDC provider ARN names (its Logins key), or None."""
    match = OIDC_ARN.match(arn)
    return match["issuer"] if match is not None else None


def is_local_host(host: str) -> bool:
    """An IP literal (in any form a resolver accepts) or a `localhost` name.

    A last label that does not start with a letter is no DNS top-level domain: it is how
    `2130706433`, `0x7f.1` or `127.1` spell 127.0.0.1 to getaddrinfo.
    """
    name = host.strip("[]").lower().rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    last = name.rsplit(".", 1)[-1]
    return name == "localhost" or name.endswith(".localhost") or not last[:1].isalpha()


def is_public_provider_url(host_path: str) -> bool:
    """True when `host_path` is what IAM accepts as a provider URL after `https://`:
    a DNS host name with at least one dot, optional path, nothing else."""
    if not host_path or len(host_path) > MAX_HOST_PATH:
        return False
    host, slash, rest = host_path.partition("/")
    path = slash + rest
    if not _HOST.fullmatch(host) or len(host) > 253 or is_local_host(host):
        return False
    return _PATH.fullmatch(path) is not None
