# whisper-ts image. Build: docker build -t whisper-ts .
# Run as whisper's image ran: docker run -v certs:/app/certs -v ~/.aws/credentials:/home/node/.aws/credentials:ro \
#   -e CONSUL=<consul-ip> -e ACME_REGISTER_EMAIL=<you> [-e DEBUG="-d"] [-e STAGING="-s"] whisper-ts
# The steps are the ones CI runs: npm ci, npm run build; then npm ci --omit=dev for the runtime.
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
RUN mkdir -p /app/certs && chown node:node /app/certs && chmod 0700 /app/certs
USER node
VOLUME ["/app/certs"]
ENTRYPOINT ["node", "/app/dist/bin.js"]
