# lakesync API and worker image (the same image runs either role).
# Build stage: dev dependencies, TypeScript, the workflow bundle.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall patches the Postgres driver (infra/patch-postgres-driver.mjs says why).
COPY infra/patch-postgres-driver.mjs infra/
RUN npm ci --include=dev --ignore-scripts=false
COPY . .
RUN npm run build

# Runtime: production dependencies and dist/ only; no TypeScript, no bundler work at start.
FROM node:24-bookworm-slim
WORKDIR /app
# Two malloc arenas, not eight per core: fewer arenas holding freed pages (README "Scaling workers").
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
COPY infra/patch-postgres-driver.mjs infra/
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# The HTTP API and its gRPC server (GRPC_PORT); dist/ carries the .proto files the gRPC server loads.
EXPOSE 8080 9090
# node runs as PID 1 with no npm or shell in between: `docker stop`'s SIGTERM reaches it and starts the graceful shutdown.
CMD ["node", "--max-semi-space-size=16", "--enable-source-maps", "--no-warnings", "dist/workers/api.js"]
