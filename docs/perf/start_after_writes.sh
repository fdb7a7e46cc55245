#!/bin/bash
# How long a start takes after a session of writes, and after a start with none: loads N users
# (100,000 by default) through /Bulk into a fresh store, then starts the server three times (the
# last after dropping the OS's page cache, when run as root) and prints the time from spawn to
# /readyz answering 200. sled 0.34.7 writes its snapshot only at open, so a start replays the log
# written since the previous one.
# Usage: docs/perf/start_after_writes.sh SERVER_BIN [N]
set -eu
BIN=$1; N=${2:-100000}; PORT=18093
D=$(mktemp -d); trap 'kill $P 2>/dev/null || true; rm -rf "$D"' EXIT
start() {
    local s; s=$(date +%s%N)
    taskset -c 0 "$BIN" --data-dir "$D/data" --listen "127.0.0.1:$PORT" >> "$D/log" 2>&1 & P=$!
    until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do sleep 0.02; done
    echo "$1: ready $(( ($(date +%s%N) - s) / 1000000 )) ms after spawn"
}
stop() { kill "$P"; wait "$P" || true; }
start "fresh store"
KEY=$(grep "^API key" "$D/log" | awk '{print $3}')
s=$(date +%s)
python3 - "http://127.0.0.1:$PORT/scim/v2" "$KEY" "$N" <<'PY'
import json, sys, urllib.request
base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for first in range(0, n, 1000):
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": {"userName": f"start{i:07d}@example.com", "displayName": f"User {i}",
                     "name": {"givenName": "Start", "familyName": f"User{i}"},
                     "emails": [{"value": f"start{i}@example.com", "type": "work", "primary": True}]}}
           for i in range(first, min(n, first + 1000))]
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}
    r = urllib.request.Request(base + "/Bulk", method="POST", data=json.dumps(body).encode(),
                               headers={"Authorization": "Bearer " + key,
                                        "Content-Type": "application/scim+json"})
    urllib.request.urlopen(r, timeout=600).read()
PY
echo "loaded $N users in $(( $(date +%s) - s )) s; store $(du -sh "$D/data" | cut -f1)"
stop; start "after the writes"
stop; start "after a start without writes"
stop
if sync && echo 3 > /proc/sys/vm/drop_caches 2> /dev/null; then
    start "again, the OS's page cache dropped"; stop
fi
