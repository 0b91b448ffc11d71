"""Verifying authgate's identity assertion: a JWT signed with one of the keys of authgate's JWKS
(selected by `kid`, fetched once and cached), the algorithm pinned, `iss`, `aud`, `sub`, `iat`
and `exp` required. Nothing here touches MLflow, so it is tested on its own."""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from .settings import Settings


class AssertionInvalid(Exception):
    """The request carries no valid assertion; `reason` says why (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """Who authgate says the caller is."""

    username: str
    scopes: tuple[str, ...]
    tenants: tuple[str, ...]
    auth_method: str

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Verifier:
    """One per process: the JWKS client caches keys (`jwks_cache_sec`) and refetches on an unknown kid."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(
            settings.jwks_url, cache_keys=True, lifespan=settings.jwks_cache_sec, timeout=5
        )

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise AssertionInvalid("no_assertion")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise AssertionInvalid("malformed") from err
        if header.get("alg") not in self.settings.algorithms:
            raise AssertionInvalid("bad_algorithm")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as err:
            raise AssertionInvalid("jwks_unreachable") from err
        except jwt.PyJWTError as err:
            raise AssertionInvalid("unknown_key") from err
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_sec,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as err:
            raise AssertionInvalid("expired") from err
        except jwt.InvalidAudienceError as err:
            raise AssertionInvalid("wrong_audience") from err
        except jwt.InvalidIssuerError as err:
            raise AssertionInvalid("wrong_issuer") from err
        except jwt.InvalidSignatureError as err:
            raise AssertionInvalid("bad_signature") from err
        except jwt.PyJWTError as err:
            raise AssertionInvalid("invalid") from err
        sub = claims.get("sub")
        if not isinstance(sub, str) or sub == "":
            raise AssertionInvalid("invalid")
        return Identity(
            username=sub,
            scopes=_strings(claims.get("scopes")),
            tenants=_strings(claims.get("tenants")),
            auth_method=str(claims.get("auth_method", "")),
        )


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))
