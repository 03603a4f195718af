# whisper-ts image, a drop-in for whisper's: same environment (CONSUL, DEBUG="-d" or "--debug", STAGING="-s",
# DOMAIN="-d <zone>", KV_PATH, ACME_REGISTER_EMAIL), same /app/certs volume, same mounts of ~/.aws/credentials
# (and ~/.aws/config) at /root/.aws and of ~/.acme at /root/.acme. Build: docker build -t whisper-ts .
#   docker run -d --name whisper-ts --read-only --cap-drop ALL --security-opt no-new-privileges \
#     -v /etc/haproxy/certs:/app/certs -v ~/.aws/credentials:/root/.aws/credentials:ro \
#     -e CONSUL=<consul-ip> -e ACME_REGISTER_EMAIL=<you> [-e DEBUG="-d"] [-e STAGING="-s"] whisper-ts
# See docs/production.md. test/integration/image.test.ts builds and runs this file with a real engine.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build -- --sourceMap false --declaration false

FROM node:24-bookworm-slim
# tini is PID 1: it forwards docker's signals to the daemon and reaps orphaned processes (Node does not reap
# what it did not spawn, so a `docker exec` that leaves a background child would leave a zombie behind).
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
# WHISPER_LISTEN: the HEALTHCHECK asks the daemon's /healthz and /readyz there (loopback only). Empty: no fixed port;
# the entrypoint then has the daemon listen on a free loopback port, which the health check finds by itself.
ENV NODE_ENV=production \
    WHISPER_CERT_FOLDER=/app/certs \
    WHISPER_LISTEN=127.0.0.1:9400
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, without their source maps, and no npm cache left in the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && find node_modules -name '*.map' -delete \
    && rm -rf /root/.npm
COPY --from=build /src/dist ./dist
# The dashboard's static files (no build step), served by --listen at /.
COPY web ./web
COPY docker/entrypoint.sh docker/healthcheck.mjs ./docker/
# /root becomes traversable (not listable) so that whisper's mounts under /root (.aws/credentials, .aws/config,
# .acme) reach the non-root user; the entrypoint points the daemon at them.
RUN mkdir -p /app/certs && chown node:node /app/certs && chmod 0700 /app/certs && chmod 0711 /root
USER node
VOLUME ["/app/certs"]
# Healthy while the daemon answers, its certificate folder is writable and it is ready: ACME account loaded
# (a --ha follower needs none) and Consul reachable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
# -s: tini also reaps as a subreaper when it is not PID 1 (`docker run --init`, compose's `init: true`).
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/app/docker/entrypoint.sh"]
