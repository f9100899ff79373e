#!/usr/bin/env bash
# Install the Debian tools streamstats needs that this machine lacks.
#
#   deploy/system-deps.sh venv   Python's venv module, for make install
#   deploy/system-deps.sh run    that, Java 17 and Maven, for the local Kafka broker (make run)
#   deploy/system-deps.sh test   those, and the tools the tests drive (make test)
#   deploy/system-deps.sh list   "tool package purpose" of every tool, one a line
#
# As root it uses apt-get; otherwise sudo, if it may run without a password; failing
# both it stops with the one command to run. Nothing happens when every tool is there.
set -euo pipefail

# tool           Debian package              needed by  why
TOOLS="
java             openjdk-17-jre-headless     run        the local Kafka broker (deploy/local-kafka)
mvn              maven                       run        fetching Kafka's jars from Maven Central
kcat             kcat                        test       a Kafka client nobody here wrote
promtool         prometheus                  test       checking the metrics exposition and alert rules
docker-compose   docker-compose              test       validating docker-compose.kafka.yml
chromium         chromium                    test       the browser tests (Playwright drives Debian's Chromium)
wrk              wrk                         test       the HTTP load of the scale proof
"

say() { echo "system-deps: $*" >&2; }

scope="${1:-test}"
case "$scope" in
  list) echo "$TOOLS" | sed '/^$/d'; exit 0 ;;
  venv|run|test) ;;
  *) say "usage: $0 venv|run|test|list"; exit 2 ;;
esac

missing_tools=()
packages=()
while read -r tool package needed_by _; do
  [[ -n "$tool" ]] || continue
  [[ "$scope" == test || ("$scope" == run && "$needed_by" == run) ]] || continue
  command -v "$tool" >/dev/null 2>&1 && continue
  missing_tools+=("$tool")
  packages+=("$package")
done <<<"$TOOLS"

# make install builds a venv: Debian's python3 needs python3-venv for that.
if ! "${PYTHON:-python3}" -c "import ensurepip, venv" >/dev/null 2>&1; then
  missing_tools+=("python3 -m venv")
  packages+=(python3-venv)
fi

[[ ${#packages[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  say "missing ${missing_tools[*]}; install them with:"
  say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}"
  exit 1
fi

say "installing ${packages[*]} (for ${missing_tools[*]})"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  "${packages[@]}" >/dev/null
# Debian's prometheus package starts a server: the tests only need promtool.
if [[ " ${packages[*]} " == *" prometheus "* ]]; then
  "${as_root[@]}" pkill -x prometheus || true
fi
for tool in "${missing_tools[@]}"; do
  [[ "$tool" == "python3 -m venv" ]] && continue
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is still missing after apt-get"; exit 1; }
done
