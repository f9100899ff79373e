#!/usr/bin/env bash
# `make demo`: a local broker, one worker, and simulated contact-center traffic in real time.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
export "$(bash deploy/local-kafka/kafka.sh start)"
# Every demo has topics, a consumer group and tables of its own, removed when it stops: the
# simulated day is the same each time (same event ids), so a second demo folded onto the
# first one's state would see its events as duplicates.
run="streamstats-demo-$(date -u +%Y%m%d%H%M%S)"
export STREAMSTATS_APP_ID="$run"
export STREAMSTATS_STATUS_TOPIC="$run.agent-status"
export STREAMSTATS_CHAT_TOPIC="$run.chat-events"
export STREAMSTATS_PANELS_TOPIC="$run.agent-panels"
export STREAMSTATS_DEAD_LETTER_TOPIC="$run.dead-letter"
export STREAMSTATS_DATA_DIR="streamstats-data/$run"
port="${STREAMSTATS_WEB_PORT:-6066}"
STREAMSTATS_JWT_SECRET="$(bash deploy/dev-secret.sh)"
export STREAMSTATS_JWT_SECRET
agent_token="$("$bin/streamstats" token --agent a-0001)"
supervisor_token="$("$bin/streamstats" token --agent supervisor --role supervisor)"
agents="${DEMO_AGENTS:-20}"

"$bin/streamstats" worker &
worker=$!

remove_run() {
    trap - EXIT INT TERM
    # The worker, and both ends of the simulated feed if it still runs.
    kill $(jobs -p) ${feed:-} 2>/dev/null || true
    wait 2>/dev/null || true
    echo "removing the demo's topics and $STREAMSTATS_DATA_DIR ..." >&2
    "$bin/python" - "$KAFKA_BOOTSTRAP_SERVERS" "$run" <<'PY' || true
import asyncio, sys
from streamstats.runtime.kafka import delete_run_topics
asyncio.run(delete_run_topics(sys.argv[1], sys.argv[2]))
PY
    rm -rf "$STREAMSTATS_DATA_DIR"
}
trap remove_run EXIT
trap 'exit 130' INT TERM

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
Ctrl-C stops it and removes this run's topics ($run.*, $run-*) and tables ($STREAMSTATS_DATA_DIR).

MSG
"$bin/streamstats" simulate --seed "${DEMO_SEED:-1}" --agents "$agents" --hours 24 --start "$start" \
    | "$bin/streamstats" produce - --realtime &
feed=$!
# Both run in the background: bash runs a trap (Ctrl-C, kill) only between commands,
# and a wait is the one it interrupts.
set +e
wait -n "$worker" "$feed"
status=$?
set -e
if [ "$status" -eq 0 ] && kill -0 "$worker" 2>/dev/null; then
    # The simulated day is over; the panels stay up until Ctrl-C.
    wait "$worker"
fi
exit "$status"
