"""Lists every endpoint the installed MLflow server serves, with MLflow's own permission class.

Prints JSON: {"version", "endpoints": [{"rule", "path", "method", "validator", "mlflow_class"}]}.
`path` is a concrete sample of the rule (path variables filled in). `mlflow_class` is how
MLflow's basic-auth app (mlflow.server.auth) guards the endpoint: read | edit | manage, or null
where it runs no permission check of its own (e.g. searches filtered after the request).
"""
import json
import re
import sys
import warnings

warnings.filterwarnings("ignore")

import atexit  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

# MLflow's basic-auth app adds its own endpoints (users, roles, permissions) to the server; it
# needs a config and a user store to be created: throw-away ones.
_tmp = tempfile.mkdtemp(prefix="authgate-mlflow-auth-")
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
with open(os.path.join(_tmp, "basic_auth.ini"), "w") as _f:
    _f.write(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{_tmp}/basic_auth.db\n"
        "admin_username = admin\nadmin_password = enumeration-only-password-0123\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
os.environ["MLFLOW_AUTH_CONFIG_PATH"] = os.path.join(_tmp, "basic_auth.ini")
os.environ.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", "enumeration-only")

import flask  # noqa: E402
import mlflow  # noqa: E402
from mlflow.server import app  # noqa: E402
from mlflow.server import auth  # noqa: E402

auth.create_app(app)


MANAGE = {"delete", "manage", "admin", "revoke", "grant", "owner", "restore"}
READ = {"read", "view", "search", "get", "list", "query"}
EDIT = {"create", "update", "log", "start", "register", "link", "use", "edit", "add",
        "attach", "detach", "set", "remove", "invoke"}


def mlflow_class(name):
    """MLflow's validators are named for the permission they check: validate_can_<verb>_..."""
    if name is None or name == "<lambda>":
        return None
    tokens = set(name.lower().strip("_").split("_"))
    if tokens & MANAGE:
        return "manage"
    if tokens & READ or name == "_allow_authenticated":
        return "read"
    if tokens & EDIT or "gateway_proxy" in name:
        return "edit"
    return None


def sample(rule):
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "x" + m.group(1).replace("_", ""), rule)


def validator_name(path, method):
    with app.test_request_context(path, method=method):
        try:
            v = auth._find_validator(flask.request)
        except Exception:  # a validator lookup that needs a body: classified by name below
            v = None
    if v is None:
        return None
    return getattr(v, "__name__", None)


def flask_rules():
    for rule in app.url_map.iter_rules():
        yield rule.rule, rule.methods


def fastapi_rules():
    """The routes MLflow serves through FastAPI (OTLP traces, jobs, gateway, MCP servers, ...)."""
    from mlflow.server.fastapi_app import create_fastapi_app

    for included in create_fastapi_app().routes:
        router = getattr(included, "original_router", None)
        if router is None:
            continue  # the mount of the Flask app itself
        context = getattr(included, "include_context", None)
        prefix = getattr(context, "prefix", "") or ""
        for route in router.routes:
            if getattr(route, "methods", None):
                yield prefix + route.path, route.methods


def to_flask_syntax(rule):
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", r"<\1>", rule)


out = []
seen = set()
for rule, methods in [*flask_rules(), *((to_flask_syntax(r), m) for r, m in fastapi_rules())]:
    for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
        if (rule, method) in seen:
            continue
        seen.add((rule, method))
        path = sample(rule)
        name = validator_name(path, method)
        out.append(
            {
                "rule": rule,
                "path": path,
                "method": method,
                "validator": name,
                "mlflow_class": mlflow_class(name),
            }
        )
json.dump({"version": mlflow.__version__, "endpoints": out}, sys.stdout, indent=1)
