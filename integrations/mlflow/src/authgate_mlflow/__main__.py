"""`python -m authgate_mlflow create-user NAME [NAME ...]`: creates MLflow users that have not
signed in yet, so colleagues can be granted access before their first visit. Runs against the
permission app's database (MLFLOW_AUTH_CONFIG_PATH's database_uri, as `mlflow server` does)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authgate_mlflow")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create MLflow users (no password anyone knows)")
    create.add_argument("names", nargs="+", metavar="NAME", help="the user's `sub` as authgate asserts it")
    args = parser.parse_args(argv)

    from mlflow.server.auth import store
    from mlflow.server.auth.config import read_auth_config

    config = read_auth_config()
    store.init_db(config.database_uri, read_db_uri=config.read_database_uri)
    from . import ensure_user

    for name in args.names:
        created = ensure_user(name)
        print(f"{name}: {'created' if created else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
