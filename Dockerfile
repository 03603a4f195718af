# whisper-ts image, a drop-in for whisper's: same environment (CONSUL, DEBUG="-d", STAGING="-s", ACME_REGISTER_EMAIL),
# same /app/certs volume, same ~/.aws/credentials mount. Build: docker build -t whisper-ts .
#   docker run -d --name whisper-ts -v whisper-certs:/app/certs -v ~/.aws/credentials:/root/.aws/credentials:ro \
#     -e CONSUL=<consul-ip> -e ACME_REGISTER_EMAIL=<you> [-e DEBUG="-d"] [-e STAGING="-s"] whisper-ts
# See docs/production.md. test/integration/packaging.test.ts replays this file's COPY and RUN steps.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WHISPER_CERT_FOLDER=/app/certs
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY docker/entrypoint.sh docker/healthcheck.mjs ./docker/
# /root becomes traversable (not listable) so that whisper's mount at /root/.aws/credentials reaches the
# non-root user; the entrypoint points the AWS SDK at it.
RUN mkdir -p /app/certs && chown node:node /app/certs && chmod 0700 /app/certs && chmod 0711 /root
USER node
VOLUME ["/app/certs"]
# Passes while WHISPER_LISTEN is unset (nothing to ask); with it, GET /healthz must answer 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
