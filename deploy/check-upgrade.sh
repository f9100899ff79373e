#!/usr/bin/env bash
# `make check-upgrade`: would the newest faust-streaming, mode-streaming and aiokafka on PyPI
# still carry the worker? Builds a throwaway venv in a temporary directory, installs
# streamstats with every other dependency at its constraints.txt pin and those three at
# their newest releases (past pyproject.toml's upper bounds), then runs there the contract
# tests of the Faust seam (tests/contract) and the short proof scenarios (tests/proof).
# Prints the versions installed and what broke; exits non-zero if anything did.
#
#   bash deploy/check-upgrade.sh [--contract-only]
#
# The proofs run at the sizes the PROOF_* variables give (`make check-upgrade` passes the
# Makefile's PROOF_SHORT). Both need a broker: KAFKA_BOOTSTRAP_SERVERS, or the local one
# deploy/local-kafka/kafka.sh starts (or finds running).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
UPGRADED=(faust-streaming mode-streaming aiokafka)

contract_only=""
case "${1:-}" in
  --contract-only) contract_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--contract-only]" >&2; exit 2 ;;
esac
if [[ -z "$contract_only" && -z "${PROOF_EVENTS:-}" ]]; then
  echo "check-upgrade: PROOF_* unset; run it as 'make check-upgrade' (short proofs)," \
    "set them, or pass --contract-only" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/streamstats-upgrade.XXXXXX")"
trap 'rm -rf "$work"' EXIT
venv="$work/venv"
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
say() { echo "check-upgrade: $*" >&2; }

say "throwaway venv in $venv"
"$PYTHON" -m venv "$venv"
# Every pin but the three under test; the project's requirements (runtime and dev) minus them.
grep -viE "^($(IFS='|'; echo "${UPGRADED[*]}"))==" "$ROOT/constraints.txt" >"$work/constraints.txt"
"$venv/bin/python" - "$ROOT/pyproject.toml" "${UPGRADED[@]}" >"$work/requirements.txt" <<'EOF'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    if re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower() not in sys.argv[2:]:
        print(requirement)
EOF
"${pip[@]}" install -c "$work/constraints.txt" -r "$work/requirements.txt" \
  || { say "could not install the pinned dependencies"; exit 1; }
"${pip[@]}" install --no-deps -e "$ROOT" || { say "could not install streamstats"; exit 1; }
install_note="their dependencies at the pins"
if ! "${pip[@]}" install --upgrade -c "$work/constraints.txt" "${UPGRADED[@]}"; then
  install_note="their dependencies NOT at the pins (the newest releases need others)"
  "${pip[@]}" install --upgrade "${UPGRADED[@]}" \
    || { say "could not install the newest ${UPGRADED[*]}"; exit 1; }
fi

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  export "$(bash "$ROOT/deploy/local-kafka/kafka.sh" start)"
fi

cd "$ROOT"
status=0
say "contract tests (tests/contract)"
"$venv/bin/python" -m pytest tests/contract -q -rfE -p no:cacheprovider -p no:randomly \
  --junitxml="$work/contract.xml" || status=1
if [[ -z "$contract_only" ]]; then
  say "short proofs (tests/proof -m proof)"
  "$venv/bin/python" -m pytest tests/proof -m proof -s -q -rfE -p no:cacheprovider \
    -p no:randomly --junitxml="$work/proof.xml" || status=1
fi

"$venv/bin/python" - "$ROOT/constraints.txt" "$work" "$install_note" "${UPGRADED[@]}" <<'EOF'
import subprocess, sys
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path

pins_file, work, note, *names = sys.argv[1:]
pins = dict(
    line.strip().lower().split("==", 1)
    for line in open(pins_file)
    if "==" in line and not line.startswith("#")
)
print("\n=== check-upgrade summary ===")
for name in names:
    print(f"{name:16} {version(name):10} (pinned {pins.get(name, '?')})")
print(f"installed with {note}")
check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
print("pip check:", "ok" if check.returncode == 0 else check.stdout.strip())
for suite in ("contract", "proof"):
    report = Path(work) / f"{suite}.xml"
    if not report.exists():
        print(f"{suite}: not run")
        continue
    cases = list(ElementTree.parse(report).iter("testcase"))
    broken = [
        f"{case.get('classname')}::{case.get('name')} ({outcome.tag})"
        for case in cases
        for outcome in case
        if outcome.tag in ("failure", "error")
    ]
    print(f"{suite}: {len(cases)} tests, {len(broken)} broke")
    for line in broken:
        print(f"  BROKE {line}")
EOF
if [[ "$status" -ne 0 ]]; then
  say "something broke: keep the pins (constraints.txt) until the seam is updated"
else
  say "nothing broke"
fi
exit "$status"
