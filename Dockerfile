# whisper-ts image, a drop-in for whisper's: same environment (CONSUL, DEBUG="-d", STAGING="-s", ACME_REGISTER_EMAIL),
# same /app/certs volume, same ~/.aws/credentials mount. Build: docker build -t whisper-ts .
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
# WHISPER_LISTEN: the HEALTHCHECK asks the daemon's /healthz there (loopback only; set it empty to serve nothing).
ENV NODE_ENV=production \
    WHISPER_CERT_FOLDER=/app/certs \
    WHISPER_LISTEN=127.0.0.1:9400
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, without their source maps, and no npm cache left in the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && find node_modules -name '*.map' -delete \
    && rm -rf /root/.npm
COPY --from=build /src/dist ./dist
COPY docker/entrypoint.sh docker/healthcheck.mjs ./docker/
# /root becomes traversable (not listable) so that whisper's mount at /root/.aws/credentials reaches the
# non-root user; the entrypoint points the AWS SDK at it.
RUN mkdir -p /app/certs && chown node:node /app/certs && chmod 0700 /app/certs && chmod 0711 /root
USER node
VOLUME ["/app/certs"]
# Healthy while the certificate folder is writable (GET /healthz on WHISPER_LISTEN, or the same probe in-process
# when WHISPER_LISTEN is empty).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
