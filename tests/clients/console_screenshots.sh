#!/usr/bin/env bash
# Regenerates the console screenshots in docs/screenshots/ (shown in the README): starts a
# fresh gatehouse (debug build) on a throw-away SQLite directory, adds a few users and groups
# through the API, and runs the browser test (tests/clients/console_browser.py) with
# GATEHOUSE_SCREENSHOTS set. Needs a Python with `playwright` (PLAYWRIGHT_PYTHON, default
# python3) and Debian's chromium at /usr/bin/chromium (GATEHOUSE_CHROMIUM to change it).
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PLAYWRIGHT_PYTHON:-python3}"
port="${GATEHOUSE_SCREENSHOT_PORT:-9477}"
base="http://127.0.0.1:$port"
token="screenshots-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
dir="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

cargo build --quiet
GATEHOUSE_DATABASE_URL="sqlite://$dir/gatehouse.db" GATEHOUSE_LISTEN="127.0.0.1:$port" \
GATEHOUSE_BOOTSTRAP_TOKEN="$token" GATEHOUSE_BOOTSTRAP_PASSWORD="screenshots-pw" \
GATEHOUSE_LOG_LEVEL=warn ./target/debug/gatehouse serve >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "$base/-/health/live/" >/dev/null && break; sleep 0.1; done

api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
pk() { python3 -c 'import json,sys; print(json.load(sys.stdin)["pk"])'; }
for u in alice:Alice\ Liddell bob:Bob\ Stone carol:Carol\ King dave:Dave\ Lin erin:Erin\ Ko; do
    api -X POST "$base/api/v3/core/users/" \
        -d "{\"username\": \"${u%%:*}\", \"name\": \"${u#*:}\", \"email\": \"${u%%:*}@example.com\"}" >/dev/null
done
api -X POST "$base/api/v2/users/" -d '{"username": "member", "password": "member-pw"}' >/dev/null
parent=$(api -X POST "$base/api/v3/core/groups/" -d '{"name": "engineering"}' | pk)
child=$(api -X POST "$base/api/v3/core/groups/" -d "{\"name\": \"backend\", \"parents\": [\"$parent\"]}" | pk)
api -X POST "$base/api/v3/rbac/roles/" -d '{"name": "helpdesk"}' >/dev/null

GATEHOUSE_URL="$base" GATEHOUSE_ADMIN=akadmin GATEHOUSE_ADMIN_PASSWORD=screenshots-pw \
GATEHOUSE_MEMBER=member GATEHOUSE_MEMBER_PASSWORD=member-pw \
GATEHOUSE_PARENT_GROUP="$parent" GATEHOUSE_CHILD_GROUP="$child" \
GATEHOUSE_SCREENSHOTS="docs/screenshots" "$python" tests/clients/console_browser.py
echo "screenshots written to docs/screenshots/"
