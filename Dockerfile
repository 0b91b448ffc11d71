# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and dist/ only, as the unprivileged `node` user.
FROM node:24-slim
# tini as PID 1: passes SIGTERM on to node (which drains, then exits 0) and reaps the orphans a
# `command` credential provider (az ...) may leave; node alone as PID 1 would not reap them.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node config ./config
USER node
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form under tini: SIGTERM reaches node; in-flight requests drain before exit.
# Memory set where the process starts, the same as the CLI's own shebang (docs/design.md#memory):
# V8's young generation and old-space limit sized for a proxy, not for the host's memory, and
# glibc's malloc kept to two arenas, with a fixed mmap threshold (large buffers go back to the
# system when freed instead of raising the threshold and fragmenting the heap).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=16", "--max-old-space-size=1024", "dist/cli.js"]
CMD ["serve"]
