# email-worker on Cloud Run: Node 24, Quarto + Typst for PDF export, non-root.
# Build: gcloud builds submit (cloudbuild.yaml). Not buildable on the dev machines (no Docker engine);
# what it runs — `npm ci --omit=dev` then `node src/main.ts` — is tested there directly.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the node@24 devDependency is not needed inside a Node 24 image.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ARG QUARTO_VERSION=1.8.25
# Quarto bundles Pandoc and Typst (PDF without a LaTeX install).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tini \
 && curl -fsSL -o /tmp/quarto.deb "https://github.com/quarto-dev/quarto-cli/releases/download/v${QUARTO_VERSION}/quarto-${QUARTO_VERSION}-linux-amd64.deb" \
 && apt-get install -y --no-install-recommends /tmp/quarto.deb \
 && rm -f /tmp/quarto.deb \
 && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    QUARTO_PATH=/usr/local/bin/quarto \
    EMAIL_PROCESSING_MODE=true \
    PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY bin ./bin
USER node
EXPOSE 8080
# tini as PID 1 reaps the grandchildren a killed Quarto process group leaves behind and forwards
# SIGTERM to node. Node 24 runs the TypeScript sources directly (type stripping).
ENTRYPOINT ["/usr/bin/tini", "--"]
# --max-semi-space-size=16: V8 otherwise grows the young generation to 128 MB during a burst of job
# starts and keeps it; capped, 1,000 concurrent 30-s jobs peak at ~330 MB RSS instead of ~420 MB
# for 2–5 % throughput (bench/README.md). Same flags as `npm start`.
CMD ["node", "--max-semi-space-size=16", "src/main.ts"]
