# email-worker on Cloud Run: Node 24 slim, Quarto (bundles Pandoc and Typst) for PDF export,
# non-root, tini as PID 1, Node's compile cache warmed at build time.
# Build: gcloud builds submit (cloudbuild.yaml). Docker does not run on the dev machines;
# test/dockerfile.test.ts checks this file, and test/production-install.test.ts runs what it runs
# (`npm ci --omit=dev`, then `node src/main.ts`) from a temp dir.
#
# Expected size ≈ 0.85 GB uncompressed (≈ 300 MB compressed): ≈ 200 MB node:24-bookworm-slim,
# ≈ 420 MB Quarto (Deno, Pandoc, Typst, Dart Sass, esbuild; estimated from the release, not built
# here), 216 MB production node_modules (measured by test/production-install.test.ts; pandoc-wasm
# and the Typst compiler are most of it), ≈ 7 MB compile cache.

# ── Production dependencies ──────────────────────────────────────────────────────────────────────
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The node@24 devDependency is not needed inside a Node 24 image.
RUN npm ci --omit=dev --no-audit --no-fund

# ── Quarto, checksum-verified ────────────────────────────────────────────────────────────────────
FROM node:24-bookworm-slim AS quarto
ARG QUARTO_VERSION=1.8.25
# sha256 of quarto-${QUARTO_VERSION}-linux-amd64.tar.gz. Pin it (cloudbuild.yaml _QUARTO_SHA256;
# docs/deploy.md shows how to read it): the release's own checksums file, checked always, only
# proves the download matches what the same server lists.
ARG QUARTO_SHA256=
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && cd /tmp \
 && base="https://github.com/quarto-dev/quarto-cli/releases/download/v${QUARTO_VERSION}" \
 && file="quarto-${QUARTO_VERSION}-linux-amd64.tar.gz" \
 && curl -fsSLO "${base}/${file}" \
 && curl -fsSLO "${base}/quarto-${QUARTO_VERSION}-checksums.txt" \
 && grep " ${file}\$" "quarto-${QUARTO_VERSION}-checksums.txt" | sha256sum -c - \
 && if [ -n "${QUARTO_SHA256}" ]; then echo "${QUARTO_SHA256}  ${file}" | sha256sum -c -; fi \
 && mkdir -p /opt/quarto \
 && tar -xzf "${file}" -C /opt/quarto --strip-components=1 \
 && /opt/quarto/bin/quarto --version

# ── Runtime ──────────────────────────────────────────────────────────────────────────────────────
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=quarto /opt/quarto /opt/quarto
RUN ln -s /opt/quarto/bin/quarto /usr/local/bin/quarto
ENV NODE_ENV=production \
    QUARTO_PATH=/usr/local/bin/quarto \
    EMAIL_PROCESSING_MODE=true \
    PORT=8080 \
    NODE_COMPILE_CACHE=/app/.node-compile-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY bin ./bin
# Compile every module start-up and a first job load, once, here (bench/README.md, startup): a
# scaled-from-zero instance then reads compiled code instead of parsing ~1,000 files. Read-only at
# run time.
RUN node src/cli/warm-compile-cache.ts && chmod -R a+rX /app/.node-compile-cache
USER node
EXPOSE 8080
# tini as PID 1 reaps the grandchildren a killed Quarto process group leaves behind and forwards
# SIGTERM to node. Node 24 runs the TypeScript sources directly (type stripping).
ENTRYPOINT ["/usr/bin/tini", "--"]
# --max-semi-space-size=16: V8 otherwise grows the young generation to 128 MB during a burst of job
# starts and keeps it; capped, 1,000 concurrent 30-s jobs peak at ~330 MB RSS instead of ~420 MB
# for 2–5 % throughput (bench/README.md). Same flags as `npm start`.
CMD ["node", "--max-semi-space-size=16", "src/main.ts"]
