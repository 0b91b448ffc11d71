#!/usr/bin/env bash
# Installs the pinned botocore (AWS's own API models: the offline schema the ECS task definition
# and target group files are validated against) into a cached virtualenv linked as
# .tools/botocore (see pinned-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pinned-venv.sh
V="1.35.99"
pinned_venv botocore "$V" "botocore==$V" "import botocore, sys; sys.exit(botocore.__version__ != '$V')"
