#!/usr/bin/env bash
# Prints the HS256 secret `make run` and `make demo` sign tokens with, creating it once
# in streamstats-data/ (never committed). Set STREAMSTATS_JWT_SECRET to use your own.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${STREAMSTATS_JWT_SECRET:-}" ]; then
    printf '%s\n' "$STREAMSTATS_JWT_SECRET"
    exit 0
fi
file=streamstats-data/jwt-secret
if [ ! -s "$file" ]; then
    mkdir -p streamstats-data
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
fi
cat "$file"
