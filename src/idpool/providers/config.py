"""Configuration of login verification: trusted issuers, the IAM provider registry, trust mode.

AWS keeps part of what verification needs outside the identity pool: the IAM OIDC provider
registry (issuer URL, client ids, thumbprints) and the IAM SAML providers (metadata). A
self-hosted server has no IAM, so that data lives here, loaded from a plain mapping (YAML
file or seed). Offline and private issuers get their keys from a configured JWKS URL or file
instead of discovery on the internet. See docs/login-providers.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idpool.domain.ids import SAML_PROVIDER_ARN
from idpool.domain.provider_urls import OIDC_ARN, oidc_issuer_of
from idpool.providers.saml_metadata import idp_from_metadata, normalize_certificate

THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")


class ProvidersConfigError(ValueError):
    """The providers configuration is wrong; the message names the offending entry."""


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """Where the signing keys of one issuer come from, instead of discovery on the internet.

    At most one of `jwks_url`, `jwks_file`, `discovery_url` is set; with none, the keys come
    from `<issuer>/.well-known/openid-configuration` as usual. `client_ids` act as the IAM
    registry entry of an OIDC provider with this issuer when none is registered by ARN.
    """

    issuer: str
    jwks_url: str | None = None
    jwks_file: str | None = None
    discovery_url: str | None = None
    client_ids: tuple[str, ...] = ()
    thumbprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OidcProviderConfig:
    """One entry of the IAM OIDC provider registry (what `iam create-open-id-connect-provider`
    would hold). Thumbprints are kept for fidelity but not enforced (see the docs)."""

    arn: str
    url: str
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SocialConfig:
    """Base URLs of the opaque-token providers, so tests and air-gapped sites can use fakes."""

    facebook_url: str = "https://graph.facebook.com"
    amazon_url: str = "https://api.amazon.com"
    twitter_url: str = "https://api.twitter.com"
    digits_url: str = "https://api.digits.com"


@dataclass(frozen=True, slots=True)
class SamlProviderConfig:
    """An IAM SAML provider: the IdP's entityID (the Issuer its assertions must name) and the
    certificates they must be signed with."""

    arn: str
    certificates: tuple[str, ...]
    entity_id: str


@dataclass(frozen=True, slots=True)
class ProvidersConfig:
    """Everything login verification needs beyond the pool's own configuration.

    `leeway_seconds` is the clock skew allowed on `exp`/`nbf`/`iat`. AWS documents a 5-minute
    grace for OIDC, yet real Cognito rejected a user-pool token 271 s after its `exp`
    (docs/login-providers.md, "Errors"), so the default is a smaller 60 s.

    `user_pool_endpoint` says "user pools live at this emulator" (moto, LocalStack): the keys
    of any `https://cognito-idp.<region>.amazonaws.com/<poolId>` issuer without its own
    `issuers` entry come from `<user_pool_endpoint>/<poolId>/.well-known/jwks.json`.
    """

    trust_mode: bool = False
    issuers: Mapping[str, IssuerConfig] = field(default_factory=dict)
    oidc_providers: Mapping[str, OidcProviderConfig] = field(default_factory=dict)
    social: SocialConfig = field(default_factory=SocialConfig)
    saml_providers: Mapping[str, SamlProviderConfig] = field(default_factory=dict)
    leeway_seconds: int = 60
    jwks_ttl_seconds: int = 3600
    jwks_refresh_interval_seconds: int = 30
    user_pool_endpoint: str | None = None

    def operator_urls(self) -> frozenset[str]:
        """Every URL written here (or built in as a provider's endpoint): what
        `providers.fetch` fetches as written rather than as a derived URL."""
        urls = {u for i in self.issuers.values() for u in (i.jwks_url, i.discovery_url) if u}
        urls.update(self.issuers)
        urls.update(p.url for p in self.oidc_providers.values())
        social = self.social
        urls.update((social.facebook_url, social.amazon_url, social.twitter_url, social.digits_url))
        if self.user_pool_endpoint:
            urls.add(self.user_pool_endpoint)
        return frozenset(urls)

    def registers_oidc_provider(self, arn: str) -> bool:
        """True when the operator registered this OIDC provider: the ARN under
        `oidc_providers`, or its issuer (https or http) under `issuers`. Only such a
        provider can ever accept a token, so only such a provider is ever fetched from."""
        issuer = oidc_issuer_of(arn)
        if issuer is None:
            return False
        return arn in self.oidc_providers or any(
            f"{scheme}://{issuer}" in self.issuers for scheme in ("https", "http")
        )


_TOP = {
    "trust_mode",
    "issuers",
    "oidc_providers",
    "social",
    "saml_providers",
    "leeway_seconds",
    "jwks_ttl_seconds",
    "jwks_refresh_interval_seconds",
    "user_pool_endpoint",
}
_SOCIAL = {"facebook": "facebook_url", "amazon": "amazon_url", "twitter": "twitter_url"}
_SOCIAL["digits"] = "digits_url"


def load_providers_config(raw: Mapping[str, Any]) -> ProvidersConfig:
    """Build the configuration from plain data, naming the first wrong entry precisely."""
    if not isinstance(raw, Mapping):
        raise ProvidersConfigError("providers: must be a mapping")
    _no_unknown(raw, _TOP, "providers")
    trust = raw.get("trust_mode", False)
    if not isinstance(trust, bool):
        raise ProvidersConfigError("providers.trust_mode: must be true or false")
    issuers = {
        cfg.issuer: cfg
        for cfg in (
            _issuer(name, value, f"providers.issuers[{name!r}]")
            for name, value in _mapping(raw.get("issuers"), "providers.issuers").items()
        )
    }
    oidc = {
        arn: _oidc_provider(arn, value, f"providers.oidc_providers[{arn!r}]")
        for arn, value in _mapping(raw.get("oidc_providers"), "providers.oidc_providers").items()
    }
    saml = {
        arn: _saml_provider(arn, value, f"providers.saml_providers[{arn!r}]")
        for arn, value in _mapping(raw.get("saml_providers"), "providers.saml_providers").items()
    }
    return ProvidersConfig(
        trust_mode=trust,
        issuers=issuers,
        oidc_providers=oidc,
        social=_social(_mapping(raw.get("social"), "providers.social")),
        saml_providers=saml,
        leeway_seconds=_seconds(raw, "leeway_seconds", 60, maximum=900),
        jwks_ttl_seconds=_seconds(raw, "jwks_ttl_seconds", 3600, maximum=7 * 86400),
        jwks_refresh_interval_seconds=_seconds(
            raw, "jwks_refresh_interval_seconds", 30, maximum=86400
        ),
        user_pool_endpoint=(
            _url(raw["user_pool_endpoint"], "providers.user_pool_endpoint")
            if raw.get("user_pool_endpoint") is not None
            else None
        ),
    )


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ProvidersConfigError(
            f"{where}: unknown key {unknown[0]!r} (expected one of {', '.join(sorted(allowed))})"
        )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ProvidersConfigError(f"{where}: must be a mapping with string keys")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProvidersConfigError(f"{where}: must be a non-empty string")
    return value


def _url(value: Any, where: str) -> str:
    text = _string(value, where)
    if not text.startswith(("https://", "http://")):
        raise ProvidersConfigError(f"{where}: must be an http(s) URL, got {text!r}")
    return text.rstrip("/")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ProvidersConfigError(f"{where}: must be a list of strings")
    return tuple(_string(item, f"{where}[{i}]") for i, item in enumerate(value))


def _thumbprints(value: Any, where: str) -> tuple[str, ...]:
    prints = _strings(value, where)
    for i, item in enumerate(prints):
        if not THUMBPRINT.match(item):
            raise ProvidersConfigError(f"{where}[{i}]: must be 40 hexadecimal characters")
    return tuple(p.lower() for p in prints)


def _seconds(raw: Mapping[str, Any], name: str, default: int, *, maximum: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ProvidersConfigError(
            f"providers.{name}: must be a whole number of seconds from 0 to {maximum}"
        )
    return value


def _issuer(name: str, value: Any, where: str) -> IssuerConfig:
    issuer = _url(name, where).rstrip("/")
    entry = _mapping(value, where)
    _no_unknown(
        entry, {"jwks_url", "jwks_file", "discovery_url", "client_ids", "thumbprints"}, where
    )
    sources = [k for k in ("jwks_url", "jwks_file", "discovery_url") if entry.get(k) is not None]
    if len(sources) > 1:
        raise ProvidersConfigError(f"{where}: give only one of {', '.join(sources)}")
    jwks_file = None
    if entry.get("jwks_file") is not None:
        jwks_file = _string(entry["jwks_file"], f"{where}.jwks_file")
        if not Path(jwks_file).is_file():
            raise ProvidersConfigError(f"{where}.jwks_file: no such file {jwks_file!r}")
    return IssuerConfig(
        issuer=issuer,
        jwks_url=_url(entry["jwks_url"], f"{where}.jwks_url") if entry.get("jwks_url") else None,
        jwks_file=jwks_file,
        discovery_url=(
            _url(entry["discovery_url"], f"{where}.discovery_url")
            if entry.get("discovery_url")
            else None
        ),
        client_ids=_strings(entry.get("client_ids"), f"{where}.client_ids"),
        thumbprints=_thumbprints(entry.get("thumbprints"), f"{where}.thumbprints"),
    )


def _oidc_provider(arn: str, value: Any, where: str) -> OidcProviderConfig:
    match = OIDC_ARN.match(arn)
    if match is None:
        raise ProvidersConfigError(
            f"{where}: not an IAM OIDC provider ARN "
            "(arn:aws:iam::<account>:oidc-provider/<issuer host/path>)"
        )
    entry = _mapping(value, where)
    _no_unknown(entry, {"url", "client_ids", "thumbprints"}, where)
    url = f"https://{match['issuer']}"
    if entry.get("url") is not None:
        given = _url(entry["url"], f"{where}.url")
        if given.split("://", 1)[1] != match["issuer"]:
            raise ProvidersConfigError(
                f"{where}.url: {given!r} does not match the ARN's issuer {match['issuer']!r}"
            )
        url = given
    client_ids = _strings(entry.get("client_ids"), f"{where}.client_ids")
    if not client_ids:
        raise ProvidersConfigError(f"{where}.client_ids: list at least one client id (audience)")
    return OidcProviderConfig(
        arn=arn,
        url=url,
        client_ids=client_ids,
        thumbprints=_thumbprints(entry.get("thumbprints"), f"{where}.thumbprints"),
    )


def _saml_provider(arn: str, value: Any, where: str) -> SamlProviderConfig:
    if not SAML_PROVIDER_ARN.fullmatch(arn):
        raise ProvidersConfigError(
            f"{where}: not an IAM SAML provider ARN (arn:aws:iam::<account>:saml-provider/<name>)"
        )
    entry = _mapping(value, where)
    allowed = {"metadata", "metadata_file", "certificate", "certificate_file"}
    _no_unknown(entry, {*allowed, "entity_id"}, where)
    given = [k for k in sorted(allowed) if entry.get(k) is not None]
    if len(given) != 1:
        raise ProvidersConfigError(f"{where}: give exactly one of {', '.join(sorted(allowed))}")
    kind = given[0]
    text = _string(entry[kind], f"{where}.{kind}")
    if kind.endswith("_file"):
        path = Path(text)
        if not path.is_file():
            raise ProvidersConfigError(f"{where}.{kind}: no such file {text!r}")
        text = path.read_text()
    try:
        if kind.startswith("metadata"):
            entity_id, certificates = idp_from_metadata(text)
        else:
            certificates = (normalize_certificate(text),)
    except ValueError as exc:
        raise ProvidersConfigError(f"{where}.{kind}: {exc}") from None
    # The entityID binds assertions to this provider: metadata carries it; a bare certificate
    # needs it stated, or any IdP sharing the certificate could log in under this ARN.
    if kind.startswith("metadata") == ("entity_id" in entry):
        rule = "comes from the metadata" if "entity_id" in entry else "is required with"
        raise ProvidersConfigError(f"{where}.entity_id: {rule} {kind}")
    if not kind.startswith("metadata"):
        entity_id = _string(entry["entity_id"], f"{where}.entity_id")
    return SamlProviderConfig(arn=arn, certificates=certificates, entity_id=entity_id)


def _social(entry: Mapping[str, Any]) -> SocialConfig:
    _no_unknown(entry, set(_SOCIAL), "providers.social")
    urls = {
        attr: _url(entry[name], f"providers.social.{name}")
        for name, attr in _SOCIAL.items()
        if entry.get(name) is not None
    }
    return SocialConfig(**urls)
