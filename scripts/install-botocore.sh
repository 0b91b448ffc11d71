#!/usr/bin/env bash
# Installs the pinned botocore (AWS's own API models: the offline schema the ECS task definition
# and target group files are validated against) into a cached virtualenv linked as .tools/botocore.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="1.35.99"
CACHE="${AUTHGATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate}"
VENV="$CACHE/botocore-$VERSION"
PY="${PYTHON:-python3}"
if ! "$VENV/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$VERSION')" 2>/dev/null; then
  echo "installing botocore==$VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "botocore==$VERSION"
fi
mkdir -p .tools
ln -sfn "$VENV" .tools/botocore
echo "botocore $("$VENV/bin/python" -c 'import botocore; print(botocore.__version__)') at .tools/botocore"
