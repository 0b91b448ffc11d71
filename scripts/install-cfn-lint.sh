#!/usr/bin/env bash
# Installs the pinned cfn-lint (AWS's CloudFormation linter, PyPI) into a cached virtualenv
# linked as .tools/cfnlint, for the test of deploy/cloudwatch (see pinned-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pinned-venv.sh
V=1.58.0
pinned_venv cfnlint "$V" "cfn-lint==$V" \
  "import sys; from cfnlint.version import __version__ as v; sys.exit(v != '$V')"
