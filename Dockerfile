# The relay image (Cloud Run). Cloud Build builds it from the repository root:
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/relay:TAG .

# --- build: compile functions/ to dist/ (tsconfig.build.json rewrites .ts imports to .js) ---
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY functions ./functions
RUN npx tsc -p tsconfig.build.json

# --- runtime: production dependencies and the compiled code only ---
FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/functions ./dist/functions
# The node image's unprivileged user; nothing in /app is writable by it.
USER node
# Cloud Run sends SIGTERM and waits 10 s: node as PID 1 receives it directly (no npm wrapper).
CMD ["node", "dist/functions/relay/main.js"]
