#!/usr/bin/env bash
# Installs the pinned MLflow (server and Python client) into a virtualenv, once: the venv lives in
# a cache directory outside the clone (kept across clones and CI runs on one machine) and
# .tools/mlflow links to it. Skips everything when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MLFLOW_VERSION="$(cat test/mlflow/MLFLOW_VERSION)"
CACHE="${AUTHGATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate}"
VENV="$CACHE/mlflow-$MLFLOW_VERSION"
PY="${PYTHON:-python3}"

if ! "$VENV/bin/python" -c "import mlflow, flask_wtf, sys; sys.exit(mlflow.__version__ != '$MLFLOW_VERSION')" 2>/dev/null; then
  echo "installing mlflow==$MLFLOW_VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mlflow[auth]==$MLFLOW_VERSION"
fi
mkdir -p .tools
ln -sfn "$VENV" .tools/mlflow
echo "mlflow $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)') at .tools/mlflow"
