# The relay image (Cloud Run), built and pushed by CI (cloudbuild.ci.yaml) and deployed by digest by CD:
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/relay:COMMIT .
# Both stages start from the base image pinned by digest in image-pins.json (_NODE_IMAGE); the infra
# supply-chain test fails when the two differ.

# --- build: compile functions/ (and the deploy's smoke check) to dist/ ---
FROM node:22-slim@sha256:83f487e0a63425e5b4d146fb5e5be574bcbe1b7b843d3ebafdd95eaf7767a7e5 AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: compiling needs only TypeScript and the type packages.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY functions ./functions
COPY scripts/smoke-check.ts ./scripts/smoke-check.ts
COPY scripts/release/fleet-gate.ts ./scripts/release/fleet-gate.ts
COPY scripts/ops/fleet-state.ts ./scripts/ops/fleet-state.ts
RUN npx tsc -p tsconfig.build.json && npx tsc -p tsconfig.image.json

# --- runtime: production dependencies and the compiled code only ---
FROM node:22-slim@sha256:83f487e0a63425e5b4d146fb5e5be574bcbe1b7b843d3ebafdd95eaf7767a7e5 AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/functions ./dist/functions
# CD runs the post-deploy smoke check from this same image (it needs only Firestore and the core).
COPY --from=build /app/dist/scripts/smoke-check.js ./dist/scripts/smoke-check.js
# ... and the fleet gate between rolling relay pool a and pool b (Firestore and the core too).
COPY --from=build /app/dist/scripts/release/fleet-gate.js ./dist/scripts/release/fleet-gate.js
COPY --from=build /app/dist/scripts/ops/fleet-state.js ./dist/scripts/ops/fleet-state.js
# The node image's unprivileged user; nothing in /app is writable by it.
USER node
# Cloud Run sends SIGTERM and waits 10 s: node as PID 1 receives it directly (no npm wrapper).
CMD ["node", "dist/functions/relay/main.js"]
