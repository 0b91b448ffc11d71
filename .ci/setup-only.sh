#!/usr/bin/env bash
# CI entry point: a clean clone, no network but the package registries.
# Installs Node 24 LTS (from the npm registry's `node` package), Redis, Prometheus, PyJWT,
# HAProxy, the distribution registry, skopeo, Chromium and the pinned MLflow where missing, then runs exactly the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! .tools/node_modules/.bin/node --version 2>/dev/null | grep -q '^v24\.'; then
  npm install --no-save --no-audit --no-fund --prefix .tools node@24
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
echo "node $(node --version), npm $(npm --version)"

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

# Prometheus: promtool for the alert-rule tests, and a real server for the scrape test.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then apt_install prometheus; fi

# PyJWT on the system interpreter: the independent implementation the interop test signs with.
if ! /usr/bin/python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then apt_install python3-jwt python3-cryptography; fi

# HAProxy: the real load balancer of the rolling-restart test.
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then apt_install haproxy; fi

# The real CNCF distribution registry and skopeo for the registry-gateway tests;
# openssl makes the token issuer's certificate.
if [ ! -x /usr/bin/docker-registry ]; then apt_install docker-registry; fi
if ! command -v skopeo >/dev/null 2>&1; then apt_install skopeo; fi
if ! command -v openssl >/dev/null 2>&1; then apt_install openssl; fi

# Chromium (Debian's) for the MLflow UI test, driven by playwright-core.
if ! command -v chromium >/dev/null 2>&1; then apt_install chromium; fi

# The pinned MLflow server and client in a cached virtualenv (PyPI; skipped when present).
bash scripts/install-mlflow.sh
# botocore's AWS API models: the offline schema of deploy/ecs (PyPI; skipped when present).
bash scripts/install-botocore.sh

# Exactly the locked versions (the Dockerfile's build stage installs the same way).
npm ci --no-audit --no-fund
