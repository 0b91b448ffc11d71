#!/usr/bin/env bash
# Installs the pinned MLflow (server and Python client) into a cached virtualenv linked as
# .tools/mlflow (see pinned-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pinned-venv.sh
V="$(cat test/mlflow/MLFLOW_VERSION)"
pinned_venv mlflow "$V" "mlflow[auth]==$V" \
  "import mlflow, flask_wtf, sys; sys.exit(mlflow.__version__ != '$V')"

# authgate-mlflow (integrations/mlflow) runs inside `mlflow server`: its dependency PyJWT, and
# pytest for its own tests, in the same virtualenv (the package itself is put on PYTHONPATH by
# the tests, so one cached virtualenv serves every clone).
# wheel lets the tests `pip install integrations/mlflow` offline (no build isolation).
if ! .tools/mlflow/bin/python -c "import jwt, pytest, wheel; assert jwt.__version__ == '2.10.1'" 2>/dev/null; then
  .tools/mlflow/bin/pip install --quiet --disable-pip-version-check "PyJWT[crypto]==2.10.1" "pytest==8.3.5" "wheel==0.45.1"
fi
