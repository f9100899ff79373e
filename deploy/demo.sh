#!/usr/bin/env bash
# `make demo`: a local broker, one worker, and simulated contact-center traffic in real time.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
export "$(bash deploy/local-kafka/kafka.sh start)"
export STREAMSTATS_APP_ID="${STREAMSTATS_APP_ID:-streamstats-demo}"
export STREAMSTATS_STATUS_TOPIC="${STREAMSTATS_STATUS_TOPIC:-demo.agent-status}"
export STREAMSTATS_CHAT_TOPIC="${STREAMSTATS_CHAT_TOPIC:-demo.chat-events}"
export STREAMSTATS_DATA_DIR="${STREAMSTATS_DATA_DIR:-streamstats-data/demo}"
port="${STREAMSTATS_WEB_PORT:-6066}"
STREAMSTATS_JWT_SECRET="$(bash deploy/dev-secret.sh)"
export STREAMSTATS_JWT_SECRET
agent_token="$("$bin/streamstats" token --agent a-0001)"
supervisor_token="$("$bin/streamstats" token --agent supervisor --role supervisor)"
agents="${DEMO_AGENTS:-20}"

"$bin/streamstats" worker &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT INT TERM

echo "waiting for the worker on http://127.0.0.1:$port/readyz ..." >&2
for _ in $(seq 1 120); do
    if ! kill -0 "$worker" 2>/dev/null; then
        echo "the worker stopped; see its messages above" >&2
        exit 1
    fi
    if "$bin/python" - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2)
PY
    sleep 0.5
done

# The simulated day began four hours ago: those events go at once, so agents are mid-shift
# when the panels open; the rest follows the clock.
start="$(date -u -d '4 hours ago' +%Y-%m-%dT%H:%M:%SZ)"
cat >&2 <<MSG

streamstats demo is running: $agents simulated agents; their day began at $start, the rest comes in real time.
  a-0001's panel:  http://127.0.0.1:$port/panel/a-0001?token=$agent_token
  the team view:   http://127.0.0.1:$port/team?token=$supervisor_token
  the API:         curl -H "Authorization: Bearer $supervisor_token" http://127.0.0.1:$port/agents
  metrics:         http://127.0.0.1:$port/metrics
Ctrl-C stops it.

MSG
"$bin/streamstats" simulate --seed "${DEMO_SEED:-1}" --agents "$agents" --hours 24 --start "$start" \
    | "$bin/streamstats" produce - --realtime
wait "$worker"
