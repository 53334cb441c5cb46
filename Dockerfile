# fastify-monitoring service image.
#
# Three stages on one pinned base: `build` compiles TypeScript with the dev dependencies (the
# instrumentation package packages/fastify-statsd-red, an npm workspace, then the service),
# `deps` installs the production dependencies only, and the final stage takes dist/ (both) and
# node_modules/ from them: no compiler, no dev dependencies, no npm, no sources in the image.
# Checked by test/compose.test.ts (node pinned to the patch release CI runs, NODE_VERSION in
# scripts/ensure-node.sh, Debian 13 `trixie-slim` in every stage; multi-stage, non-root, HEALTHCHECK).

FROM node:26.12.1-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/fastify-statsd-red/package.json ./packages/fastify-statsd-red/
# Behind a TLS-intercepting proxy npm needs the machine's npm config and CA bundle: optional
# build secrets (docs/running.md "Behind a TLS-intercepting proxy"), mounted for this RUN only, never in a layer.
RUN --mount=type=secret,id=npmrc --mount=type=secret,id=cacert \
    if [ -f /run/secrets/npmrc ]; then export NPM_CONFIG_USERCONFIG=/run/secrets/npmrc; fi; \
    if [ -f /run/secrets/cacert ]; then export NPM_CONFIG_CAFILE=/run/secrets/cacert; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY packages/fastify-statsd-red/tsconfig.json ./packages/fastify-statsd-red/
COPY packages/fastify-statsd-red/src ./packages/fastify-statsd-red/src
COPY service ./service
# Without source maps: node runs without --enable-source-maps and the sources stay out of the
# image, so the 31 .map files would be bytes nothing reads. Stack traces name dist/*.js lines,
# which `npm run build` reproduces from the tagged commit; --enable-source-maps would also make
# every read of an error's stack slower, on request paths that create errors (4xx).
RUN npm run build -- --sourceMap false

FROM node:26.12.1-trixie-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The workspace's package.json: npm ci links node_modules/fastify-statsd-red to it.
COPY packages/fastify-statsd-red/package.json ./packages/fastify-statsd-red/
# --ignore-scripts: no production dependency needs an install script, so none gets to run one.
# --omit=optional: the only optional production dependency is unix-dgram (with bindings, nan and
# file-uri-to-path), hot-shots' Unix-domain-socket transport, which it loads only for
# `protocol: 'uds'`; the service sends StatsD over UDP, and unbuilt (no install script) it
# could not load anyway.
RUN --mount=type=secret,id=npmrc --mount=type=secret,id=cacert \
    if [ -f /run/secrets/npmrc ]; then export NPM_CONFIG_USERCONFIG=/run/secrets/npmrc; fi; \
    if [ -f /run/secrets/cacert ]; then export NPM_CONFIG_CAFILE=/run/secrets/cacert; fi; \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:26.12.1-trixie-slim
# The service runs `node dist/server.js` directly and never needs a package manager, so none is
# left runnable in the container, and scanners that read the merged filesystem (Trivy's and
# Grype's default) stop reporting npm's bundled packages. This does not make the image smaller:
# a later layer cannot shrink the base layer, it only adds a few kB of deletion markers over it.
# Shipping fewer bytes would need a final stage on another base (Debian plus the node binary):
# a second image to pin and keep in step, for npm's ~19 MB (npm 11, unpacked): not taken.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
# Files stay owned by root and read-only to the `node` user the process runs as.
COPY --from=deps /app/node_modules ./node_modules
# server.js reads ../package.json (relative to dist/) for the service version.
COPY package.json ./
# The instrumentation package as node_modules/fastify-statsd-red (a link) finds it: its
# package.json (exports) and its compiled JavaScript.
COPY packages/fastify-statsd-red/package.json ./packages/fastify-statsd-red/
COPY --from=build /app/packages/fastify-statsd-red/dist ./packages/fastify-statsd-red/dist
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
# Liveness with what the image has (node's fetch): the process answers HTTP. Readiness
# (Redis reachable) is /health/ready, for a balancer; a Redis outage must not mark the
# container unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 gets SIGTERM from `docker stop` and shuts down gracefully (close-with-grace).
CMD ["node", "dist/server.js"]
