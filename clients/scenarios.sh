#!/usr/bin/env bash
# Runs the client scenarios against a real server: starts `medialib serve` (SQLite + files) in a
# temporary directory on a free loopback port, creates a second tenant with one media item
# (the foreign id every scenario tries to delete), then runs each command given, with
# MEDIALIB_URL, MEDIALIB_KEY and MEDIALIB_FOREIGN_ID in its environment. Stops the server at
# the end.
#
# usage: clients/scenarios.sh MEDIALIB_BINARY COMMAND [COMMAND ...]
set -euo pipefail
bin=$(realpath "$1"); shift
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

( cd "$work" && exec "$bin" serve --listen 127.0.0.1:0 ) >"$work/stdout" 2>"$work/stderr" &
server=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$work/stderr" >&2; exit 1; }
key=$(cat "$work/data/admin.key")

( cd "$work" && "$bin" tenants create other >/dev/null 2>>"$work/cli.log" )
foreign_key=$( cd "$work" && "$bin" keys create --tenant other --user olga --role admin --json 2>>"$work/cli.log" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' )
foreign_id=$(curl -sf -X POST "$url/v1/media?path=theirs.txt" -H "Authorization: Bearer $foreign_key" \
    -H 'Content-Type: text/plain' --data-binary 'not yours' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

export MEDIALIB_URL="$url" MEDIALIB_KEY="$key" MEDIALIB_FOREIGN_ID="$foreign_id"
for command in "$@"; do
    echo "== $command"
    bash -c "$command"
done
