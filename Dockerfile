# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:26-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
RUN npx tsc -p tsconfig.json

# Production dependencies only.
FROM node:26-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Runtime: distroless Node.js 26 LTS on Debian 13 (the same Debian as the build stages, so any native module
# links against the same glibc), no shell, non-root (uid 65532). Nothing is written at run time, so a read-only
# root filesystem works; policies are mounted, certificates are mounted or kept in a Secret through the API.
FROM gcr.io/distroless/nodejs26-debian13:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY schema ./schema
COPY policies ./policies
COPY deploy ./deploy
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/nodejs/bin/node", "dist/src/cli/main.js"]
CMD ["serve"]
