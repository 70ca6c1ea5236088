# syntax=docker/dockerfile:1
#
# tollgate container image (SPEC §12, docs/deployment.md).
#
#   docker build -t tollgate:0.1.0 .
#   docker run --rm tollgate:0.1.0 --help
#
# Three stages, all on the same Debian (glibc) Node.js image, so the native module compiled in
# `deps` (better-sqlite3) matches the runtime's libc and Node ABI exactly:
#   build   full `npm ci`, TypeScript → dist/
#   deps    production dependencies only (`npm ci --omit=dev`), native modules built here
#   runtime node + dist + production node_modules + package.json; no compiler, no npm cache,
#           numeric non-root user, nothing written outside /var/lib/tollgate and
#           /var/log/tollgate (so Kubernetes can set readOnlyRootFilesystem)
# No HEALTHCHECK: Kubernetes probes /health/live and /health/ready on the status port (8100).

# Node 22 LTS: fastify's light-my-request needs Node >= 22 (cookie@2), and Node 20 leaves LTS in
# April 2026. The project's tests also pass on Node 20.19+ (package.json engines).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the TypeScript build) needs src/, which is copied below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts skips `prepare` (tsc is a devDependency and is not installed here); the one
# production dependency with an install script, better-sqlite3, is then built explicitly.
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# Writable state (gateway.data_dir, the audit log) lives under these two directories; in
# Kubernetes they are emptyDir volumes. 10001 is not a user of the base image. `tollgate` on
# PATH serves `kubectl exec … -- tollgate config export` and the like.
RUN mkdir -p /var/lib/tollgate /var/log/tollgate \
 && chown 10001:10001 /var/lib/tollgate /var/log/tollgate \
 && ln -s /app/bin/tollgate.js /usr/local/bin/tollgate
# The working directory is the user's own: the default data_dir (./.tollgate) and `tollgate
# demo`'s state are relative to it (/app belongs to root; everything else uses absolute paths).
WORKDIR /var/lib/tollgate
USER 10001:10001
# proxy HTTP, proxy HTTPS, admin, status (SPEC §2)
EXPOSE 8000 8443 8001 8100
# node is PID 1: tollgate handles SIGTERM itself (drain, flush the audit log, exit 0).
ENTRYPOINT ["node", "/app/bin/tollgate.js"]
CMD ["start", "--config", "/etc/tollgate/config/tollgate.yaml"]
