# tmux-orchestrator-agent: the agent (`agent serve` by default) in a small image.
#
#   docker build -t tmux-orchestrator-agent .
#
# It watches processes and tmux sessions of the *host*, so run it with the
# host's PID namespace, the tmux socket directory and the registry directory
# mounted, and the uid that owns the tmux server (docs/deployment.md, "Docker"):
#
#   docker run -d --name toa --pid=host --user "$(id -u):$(id -g)" \
#     -e AGENT_HOST_ID="$(hostname)" \
#     -v /tmp/tmux-$(id -u):/tmp/tmux-$(id -u) \
#     -v "$PWD/data":/var/lib/tmux-orchestrator-agent \
#     -p 127.0.0.1:9820:9820 tmux-orchestrator-agent

# ---- build: dev dependencies, TypeScript -> dist/ ---------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, dist/, tmux, procps, git -------------
FROM node:20-bookworm-slim AS runtime

# tmux: scanning, hooks and launches talk to the host's tmux server through its
# socket. procps: ps, the process-table fallback. git: completion evidence
# (commits in projectDir); without it that evidence is "unavailable" and holds
# failures back. sqlite3: the Tmux-Orchestrator source reads their queue with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tmux procps perl-base git sqlite3 \
    && rm -rf /var/lib/apt/lists/*

# A dedicated unprivileged user; `docker run --user "$(id -u):$(id -g)"`
# replaces it with the uid that owns the host's tmux server (tmux accepts
# clients of its own uid only, and signals need the same uid).
RUN groupadd --system --gid 10001 agent \
    && useradd --system --uid 10001 --gid agent --no-create-home \
       --home-dir /var/lib/tmux-orchestrator-agent --shell /usr/sbin/nologin agent \
    && install -d -m 0700 -o agent -g agent /var/lib/tmux-orchestrator-agent

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY config/default.yaml ./config/default.yaml
RUN chmod 0755 /app/dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/agent
# Caps V8's young generation at 1 MB semi-spaces, as the systemd unit does: the
# daemon's first full sync grew it to 32 MB (start-up RSS peak ~120 MB -> ~98 MB,
# no measurable CPU cost; docs/performance-history.md).
ENV NODE_OPTIONS=--max-semi-space-size=1

# The registry (and its audit log, archive, lock and last-good copy) live in
# this directory: mount the host's registry directory here.
ENV AGENT_REGISTRY=/var/lib/tmux-orchestrator-agent/registry.json
WORKDIR /var/lib/tmux-orchestrator-agent
VOLUME ["/var/lib/tmux-orchestrator-agent"]

USER agent
EXPOSE 9820

# /healthz answers 200 while the process runs; node's fetch, so no curl in the
# image. The port follows AGENT_LISTEN (default 0.0.0.0:9820).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "const l = process.env.AGENT_LISTEN || '0.0.0.0:9820'; fetch('http://127.0.0.1:' + l.slice(l.lastIndexOf(':') + 1) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
