# syntax=docker/dockerfile:1
# One image for both processes: `api` runs by default, the worker overrides the command.

FROM node:20.20-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm i -g pnpm@12.4.2
WORKDIR /app

# Everything installed and type-checked: the build fails here rather than at run time.
FROM base AS build
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY packages/shared/package.json packages/shared/
COPY packages/server/package.json packages/server/
COPY packages/client/package.json packages/client/
COPY test/package.json test/
COPY bench/package.json bench/
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm typecheck && pnpm build

# Production dependencies only, owned by root and read-only to the runtime user.
FROM base AS runtime
# The allocator settings `pnpm start` gives its processes (packages/server/src/node-flags.ts).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json /app/pnpm-lock.yaml /app/pnpm-workspace.yaml /app/tsconfig.base.json /app/tsconfig.json ./
COPY --from=build /app/apps/api/package.json apps/api/
COPY --from=build /app/apps/worker/package.json apps/worker/
COPY --from=build /app/apps/cli/package.json apps/cli/
COPY --from=build /app/packages/shared/package.json packages/shared/
COPY --from=build /app/packages/server/package.json packages/server/
COPY --from=build /app/packages/client/package.json packages/client/
COPY --from=build /app/test/package.json test/
COPY --from=build /app/bench/package.json bench/
RUN pnpm install --frozen-lockfile --prod --filter '!@wamedia/test' --filter '!@wamedia/bench'
# Compiled JavaScript: node runs it as it is, with no TypeScript loader (see scripts/build.mjs).
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8083
# The API, one process per core on one port (API_PROCESSES sets another number; WORKER_PROCESSES=0:
# no workers here, they have containers of their own). Exec form: node is PID 1's only child (tini
# via `init: true`), so SIGTERM reaches it, and it stops the API processes.
ENV WORKER_PROCESSES=0
CMD ["node", "--max-semi-space-size=1", "--no-opt", "dist/start.js"]
