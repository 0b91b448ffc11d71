"""authgate-mlflow: MLflow's permission app (`mlflow server --app-name basic-auth`) for people
signed in through authgate.

In MLflow's auth config file::

    [mlflow]
    authorization_function = authgate_mlflow:authenticate_request

The function takes the user from authgate's identity assertion (verified against authgate's
JWKS; see `settings`), creates the MLflow user on first sight, makes them an MLflow admin exactly
while their scopes hold the admin scope (both ways, on every request), and with MLflow workspaces
gives them access to the workspaces named by their tenants. No valid assertion: 401.
MLflow calls the function several times per request: it verifies once and keeps the answer on
the Flask request.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING

from .settings import Settings, SettingsError, load_settings
from .verify import AssertionInvalid, Identity, Verifier

if TYPE_CHECKING:
    from flask import Response
    from werkzeug.datastructures import Authorization

__all__ = [
    "AssertionInvalid",
    "Identity",
    "Settings",
    "SettingsError",
    "Verifier",
    "authenticate_request",
    "ensure_user",
    "load_settings",
]
__version__ = "0.1.0"

log = logging.getLogger("authgate_mlflow")

_lock = threading.Lock()
_verifier: Verifier | None = None
# username → (is_admin, tenants, when synced): MLflow's user table is written only on a change,
# and read again at most every SYNC_SEC for a user whose scopes did not change.
_synced: dict[str, tuple[bool, tuple[str, ...], float]] = {}
SYNC_SEC = 10.0
_G_KEY = "_authgate_mlflow_auth"


def _get_verifier() -> Verifier:
    global _verifier
    if _verifier is None:
        with _lock:
            if _verifier is None:
                _verifier = Verifier(load_settings())
    return _verifier


def _unauthorized(reason: str) -> Response:
    from flask import make_response

    res = make_response(
        {
            "error_code": "UNAUTHENTICATED",
            "message": "This MLflow accepts only requests that passed through authgate "
            f"(identity assertion: {reason}).",
        },
        401,
    )
    return res


def _random_password() -> str:
    # Users never sign in with a password: MLflow's store needs one, nobody knows it.
    return secrets.token_urlsafe(32)


def ensure_user(username: str, is_admin: bool | None = None) -> bool:
    """Creates the MLflow user when missing; sets `is_admin` when given. True when created."""
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth import store

    created = False
    if not store.has_user(username):
        try:
            store.create_user(username, _random_password(), bool(is_admin))
            created = True
        except MlflowException as err:
            # Another worker created it first.
            if "already exists" not in str(err):
                raise
    if is_admin is not None and not created:
        user = store.get_user(username)
        if bool(user.is_admin) != is_admin:
            store.update_user(username, is_admin=is_admin)
            log.info("authgate-mlflow: %s admin=%s (follows the admin scope)", username, is_admin)
    return created


def _sync_workspaces(username: str, tenants: tuple[str, ...], permission: str) -> None:
    """With workspaces on: the user's workspace access is exactly their tenants."""
    from mlflow.server.auth import store

    from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES

    enabled = bool(MLFLOW_ENABLE_WORKSPACES.get())
    if not enabled:
        return
    held = {p.workspace: p.permission for p in store.list_user_workspace_permissions(username)}
    for tenant in tenants:
        if held.get(tenant) != permission:
            store.set_workspace_permission(tenant, username, permission)
    for workspace in held:
        if workspace not in tenants:
            store.delete_workspace_permission(workspace, username)


def _sync(identity: Identity, settings: Settings) -> None:
    is_admin = identity.has_scope(settings.admin_scope)
    now = time.monotonic()
    seen = _synced.get(identity.username)
    if seen and seen[0] == is_admin and seen[1] == identity.tenants and now - seen[2] < SYNC_SEC:
        return
    ensure_user(identity.username, is_admin)
    _sync_workspaces(identity.username, identity.tenants, settings.workspace_permission)
    _synced[identity.username] = (is_admin, identity.tenants, now)


def authenticate_request() -> Authorization | Response:
    """MLflow's `authorization_function`: the user of authgate's assertion, or 401."""
    from flask import g, request
    from werkzeug.datastructures import Authorization

    cached = g.get(_G_KEY)
    if cached is not None:
        return cached
    verifier = _get_verifier()
    try:
        identity = verifier.verify(request.headers.get(verifier.settings.header))
        _sync(identity, verifier.settings)
        result: Authorization | Response = Authorization(
            "bearer", {"username": identity.username}
        )
    except AssertionInvalid as err:
        log.warning("authgate-mlflow: request refused (%s) %s %s", err.reason, request.method, request.path)
        result = _unauthorized(err.reason)
    setattr(g, _G_KEY, result)
    return result
