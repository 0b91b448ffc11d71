"""Where the plugin finds authgate: the JWKS URL, the audience (the authgate route's name), the
issuer, the header, the admin scope. Read from the environment, else from the `[authgate]`
section of MLflow's auth config file (`MLFLOW_AUTH_CONFIG_PATH`), else the defaults."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass

ENV = {
    "jwks_url": "AUTHGATE_JWKS_URL",
    "audience": "AUTHGATE_AUDIENCE",
    "issuer": "AUTHGATE_ISSUER",
    "header": "AUTHGATE_ASSERTION_HEADER",
    "admin_scope": "AUTHGATE_ADMIN_SCOPE",
    "algorithms": "AUTHGATE_ALGORITHMS",
    "jwks_cache_sec": "AUTHGATE_JWKS_CACHE_SEC",
    "leeway_sec": "AUTHGATE_LEEWAY_SEC",
    "workspace_permission": "AUTHGATE_WORKSPACE_PERMISSION",
}


class SettingsError(ValueError):
    """A setting is missing or malformed (named, never a secret)."""


@dataclass(frozen=True)
class Settings:
    jwks_url: str
    audience: str
    issuer: str = "authgate"
    header: str = "X-Authgate-Assertion"
    admin_scope: str = "mlflow:admin"
    algorithms: tuple[str, ...] = ("ES256", "EdDSA")
    jwks_cache_sec: int = 300
    leeway_sec: int = 5
    # What a tenant of the assertion grants on the MLflow workspace of that name
    # (`mlflow server --enable-workspaces`): USE (member) or MANAGE.
    workspace_permission: str = "USE"


def _from_file() -> dict[str, str]:
    path = os.environ.get("MLFLOW_AUTH_CONFIG_PATH")
    if not path or not os.path.exists(path):
        return {}
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section("authgate"):
        return {}
    return dict(parser.items("authgate"))


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings in force: environment first, then the auth config file's [authgate] section."""
    env = os.environ if environ is None else environ
    raw = _from_file()
    for field, var in ENV.items():
        if env.get(var):
            raw[field] = env[var]
    missing = [ENV[f] for f in ("jwks_url", "audience") if not raw.get(f)]
    if missing:
        raise SettingsError(
            "authgate-mlflow needs " + " and ".join(missing) + " (or [authgate] jwks_url / audience)"
        )
    try:
        algorithms = tuple(a.strip() for a in raw.get("algorithms", "ES256,EdDSA").split(",") if a.strip())
        settings = Settings(
            jwks_url=raw["jwks_url"],
            audience=raw["audience"],
            issuer=raw.get("issuer", "authgate"),
            header=raw.get("header", "X-Authgate-Assertion"),
            admin_scope=raw.get("admin_scope", "mlflow:admin"),
            algorithms=algorithms,
            jwks_cache_sec=int(raw.get("jwks_cache_sec", "300")),
            leeway_sec=int(raw.get("leeway_sec", "5")),
            workspace_permission=raw.get("workspace_permission", "USE").upper(),
        )
    except ValueError as err:
        raise SettingsError(f"authgate-mlflow setting is not a number: {err}") from err
    unknown = set(settings.algorithms) - {"ES256", "EdDSA"}
    if unknown or not settings.algorithms:
        raise SettingsError(f"AUTHGATE_ALGORITHMS must be ES256 and/or EdDSA, not {sorted(unknown)}")
    if settings.workspace_permission not in ("USE", "MANAGE"):
        raise SettingsError("AUTHGATE_WORKSPACE_PERMISSION must be USE or MANAGE")
    return settings
