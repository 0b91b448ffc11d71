#!/usr/bin/env bash
# Builds the Dockerfile with podman and runs the image the way the README says, checking what a
# deployment relies on: it starts, answers 200/401/403 through the demo routes, runs as a
# non-root user with a read-only root filesystem, publishes the metrics port, and drains then
# exits 0 on SIGTERM (tini as PID 1).
#
#   bash scripts/container-check.sh        (npm run container:check)
#
# Needs podman (Debian: podman, runc). Where `node:24-slim` cannot be pulled (no container
# registry reachable, as on the development machines here), a stand-in is built from Debian's
# packages with debootstrap plus the Node 24 binary of the npm registry's `node` package, and
# tagged docker.io/library/node:24-slim so the Dockerfile is built unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=docker.io/library/node:24-slim
IMAGE=localhost/authgate:check
NAME=authgate-check-$$
PORT=${CHECK_PORT:-18080}
METRICS_PORT=${CHECK_METRICS_PORT:-19090}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/authgate
fail() { echo "container-check: FAIL: $*" >&2; exit 1; }
step() { echo "container-check: $*"; }

command -v podman >/dev/null || fail "podman is not installed (apt-get install podman runc)"

if ! podman image exists "$BASE" && ! podman pull -q "$BASE" >/dev/null 2>&1; then
  step "$BASE cannot be pulled: building a stand-in from Debian packages (debootstrap) and Node 24"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed"
  NODE_BIN=.tools/node_modules/node/bin/node
  [ -x "$NODE_BIN" ] || npm install --no-save --no-audit --no-fund --prefix .tools node@24 >/dev/null
  ROOTFS="$CACHE/node-24-slim-rootfs"
  if [ ! -x "$ROOTFS/usr/local/bin/npm" ]; then
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" \
      http://deb.debian.org/debian >/dev/null
    cp "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
    npm install -g --prefix "$ROOTFS/usr/local" --no-audit --no-fund npm@11 >/dev/null
    chroot "$ROOTFS" useradd -m -u 1000 -s /bin/bash node
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb
  fi
  # A machine behind a TLS-intercepting egress proxy trusts its CA through NODE_EXTRA_CA_CERTS;
  # the build's `npm ci` needs the same.
  CHANGES=(--change 'CMD ["node"]'
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$ROOTFS/etc/ssl/certs/host-ca-certificates.crt"
    CHANGES+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt')
  fi
  tar -C "$ROOTFS" -c . | podman import "${CHANGES[@]}" - "$BASE" >/dev/null
fi

step "building the Dockerfile"
started=$(date +%s)
# chroot isolation: RUN steps need no OCI runtime or cgroups (both limited in some sandboxes).
podman build -q --format docker --isolation chroot -t "$IMAGE" . >/dev/null 2>&1 || fail "the Dockerfile does not build"
step "built in $(($(date +%s) - started)) s, $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%d MB", $1/1000000}')"

# The OCI runtime: the default one, else runc with explicit limits (a VM that refuses crun's
# cgroup setup or raising RLIMIT_NPROC).
RUN=(podman)
LIMITS=()
if ! podman run --rm "$IMAGE" --version >/dev/null 2>&1; then
  RUN=(podman --runtime runc)
  LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
  "${RUN[@]}" run --rm "${LIMITS[@]}" "$IMAGE" --version >/dev/null || fail "the image does not run"
fi
cleanup() { "${RUN[@]}" rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "docker run -p $PORT:8080 -p $METRICS_PORT:9090 --read-only authgate serve --demo"
"${RUN[@]}" run -d --name "$NAME" "${LIMITS[@]}" --read-only \
  -p "$PORT:8080" -p "$METRICS_PORT:9090" "$IMAGE" serve --demo >/dev/null
for _ in $(seq 1 50); do
  curl -fs -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
TOKEN=$("${RUN[@]}" logs "$NAME" 2>&1 | sed -n 's/.*export TOKEN=//p')
[ -n "$TOKEN" ] || fail "no development token in the demo banner"
status() { curl -s -m 3 -o /dev/null -w '%{http_code}' "$@"; }
expect() {
  local want=$1; shift
  local got; got=$(status "$@")
  [ "$got" = "$want" ] || fail "expected $want, got $got: curl $*"
  step "  $want  ${*: -1}"
}
expect 200 "http://127.0.0.1:$PORT/healthz"
expect 200 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/hello"
expect 401 "http://127.0.0.1:$PORT/api/hello"
expect 403 -H "Authorization: Bearer $TOKEN" -H 'X-Tenant-ID: other' "http://127.0.0.1:$PORT/api/hello"
curl -fs -m 3 "http://127.0.0.1:$METRICS_PORT/metrics" | grep -q '^authgate_build_info' ||
  fail "no metrics on the published metrics port"
step "  metrics on :$METRICS_PORT"

uid=$("${RUN[@]}" exec "$NAME" id -u)
[ "$uid" != 0 ] || fail "the process runs as root"
pid1=$("${RUN[@]}" exec "$NAME" cat /proc/1/cmdline | tr '\0' ' ')
step "  uid $uid, PID 1: $pid1"

started=$(date +%s)
"${RUN[@]}" stop -t 40 "$NAME" >/dev/null
code=$("${RUN[@]}" inspect "$NAME" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
"${RUN[@]}" logs "$NAME" 2>&1 | grep -q '"message":"stopped"' || fail "no 'stopped' line after SIGTERM"
step "  SIGTERM: drained and exited 0 after $(($(date +%s) - started)) s"
echo "container-check: passed"
