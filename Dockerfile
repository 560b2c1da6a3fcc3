# One image for both processes: `api` (default) and `worker` (override the command).
# Node 24 (an LTS line): Node 20 reached its end of life in April 2026, and on the same build Node 24 served
# POST /v1/events with 6-21% less of the service's CPU per request (docs/benchmarks.md).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY scripts ./scripts
COPY apps ./apps
COPY libs ./libs
COPY bench ./bench
RUN node scripts/build.mjs && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production PORT=3000
# 64 MB young-generation semi-spaces (16 MB by default), as `npm start` runs the service: a third
# of the scavenges, and about 15% more POST /v1/events at saturation (docs/benchmarks.md).
ENV NODE_OPTIONS=--max-semi-space-size=64
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY configs ./configs
EXPOSE 3000
USER node
CMD ["node", "dist/apps/api/src/main.js"]
