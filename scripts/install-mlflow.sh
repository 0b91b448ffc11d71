#!/usr/bin/env bash
# Installs the pinned MLflow (server and Python client) into a cached virtualenv linked as
# .tools/mlflow (see pinned-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pinned-venv.sh
V="$(cat test/mlflow/MLFLOW_VERSION)"
pinned_venv mlflow "$V" "mlflow[auth]==$V" \
  "import mlflow, flask_wtf, sys; sys.exit(mlflow.__version__ != '$V')"
