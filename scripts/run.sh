#!/usr/bin/env bash
# `make run`: migrate, start the seeded sandbox, sync, create the demo logins and the custom
# attribute definitions, start the background worker, then serve the app in the foreground.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8765}
SEED=${SEED:-300}
mkdir -p var

stop_pidfile() {
    if [ -f "$1" ]; then
        kill "$(cat "$1")" 2>/dev/null || true
        rm -f "$1"
    fi
}

stop_pidfile var/sandbox.pid
stop_pidfile var/worker.pid

$PY manage.py migrate --no-input -v 0

# The sandbox sends a signed webhook to the app for each change made through its API; both read
# the secret from the environment (`--webhook-secret` defaults to it), so it is not on a
# command line. A demo value unless LIVEDESK_WEBHOOK_SECRET is set.
export LIVEDESK_WEBHOOK_SECRET="${LIVEDESK_WEBHOOK_SECRET:-sandbox-demo-webhook-secret}"
$PY manage.py livedesk_sandbox --port "$SANDBOX_PORT" --seed "$SEED" \
    --webhook-url "http://127.0.0.1:$PORT/webhooks/livedesk/" >var/sandbox.log 2>&1 &
echo $! >var/sandbox.pid
$PY - "$SANDBOX_PORT" <<'PYEOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/_sandbox/faults"
for _ in range(100):
    try:
        urllib.request.urlopen(url, timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("The LiveDesk sandbox did not start: see var/sandbox.log")
PYEOF
# Reset any fault a previous demo left switched on.
$PY -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$SANDBOX_PORT/_sandbox/faults', method='DELETE'))"

export LIVEDESK_BASE_URL="${LIVEDESK_BASE_URL:-http://127.0.0.1:$SANDBOX_PORT}"
$PY manage.py sync_contacts
$PY manage.py demo_logins
# Typed definitions of the seed's custom attributes (an existing one is left as it is).
$PY manage.py demo_definitions
$PY manage.py push_pending
$PY manage.py schedule_sync

$PY manage.py db_worker --no-reload >var/worker.log 2>&1 &
echo $! >var/worker.pid

cleanup() {
    stop_pidfile var/worker.pid
    stop_pidfile var/sandbox.pid
}
trap cleanup EXIT INT TERM

cat <<MSG

  LiveDesk Contacts Admin is running:  http://127.0.0.1:$PORT/
    agent login:  agent / livedesk-demo      (contact pages)
    lead login:   lead / livedesk-demo       (also bulk edit, import, undo)
    admin login:  admin / livedesk-demo      (also http://127.0.0.1:$PORT/admin/)
  LiveDesk sandbox: http://127.0.0.1:$SANDBOX_PORT (logs in var/sandbox.log, worker in var/worker.log)
    its changes reach the app through the webhook http://127.0.0.1:$PORT/webhooks/livedesk/
  Press Ctrl-C to stop everything.

MSG
$PY manage.py runserver "127.0.0.1:$PORT" --noreload
