#!/usr/bin/env bash
# The disk under a running server turns read-only (ext4 with errors=remount-ro after an error, as
# a failing disk does): no write may be acknowledged falsely, the server must stop with a non-zero
# exit, and once the disk is writable again a restart must find every acknowledged write and a
# consistent store. Needs root, loop devices and ext4 (not a tmpfs: it cannot be made read-only
# under open files). Usage: docs/faults/read-only-disk.sh [path/to/scim-server]
set -euo pipefail
BIN=${1:-target/release/scim-server}
[ -x "$BIN" ] || { echo "build it first: cargo build --release -p server" >&2; exit 2; }
BIN=$(realpath "$BIN")
WORK=$(mktemp -d)
IMG=$WORK/disk.img
MNT=$WORK/mnt
PORT=${PORT:-18555}
URL=http://127.0.0.1:$PORT
LOOP=
cleanup() {
  pkill -f -- "--listen 127.0.0.1:$PORT" 2>/dev/null || true
  sleep 0.5
  mountpoint -q "$MNT" && umount "$MNT"
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Exit 77 when this machine cannot set the experiment up (no free loop device, no ext4): the
# caller tells that apart from a failure of the server.
mkdir -p "$MNT"
truncate -s 256M "$IMG"
mkfs.ext4 -q "$IMG" || { echo "cannot make an ext4 image" >&2; exit 77; }
LOOP=$(losetup -f --show "$IMG") || { echo "cannot attach a loop device" >&2; LOOP=; exit 77; }
mount -o errors=remount-ro "$LOOP" "$MNT" || { echo "cannot mount the loop device" >&2; exit 77; }
DEV=$(basename "$LOOP")
[ -w "/sys/fs/ext4/$DEV/trigger_fs_error" ] || { echo "this kernel cannot trigger an ext4 error" >&2; exit 77; }

# The server writes its ready file (JSON: address, URLs, the key minted at this start) once it
# listens; its stdout is for people.
start() {
  rm -f "$WORK/ready.json"
  "$BIN" serve --data-dir "$MNT/data" --listen "127.0.0.1:$PORT" --ready-file "$WORK/ready.json" \
    >"$WORK/out.txt" 2>"$WORK/err.txt" &
  PID=$!
  for _ in $(seq 1 50); do
    [ -f "$WORK/ready.json" ] && return
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2; cat "$WORK/err.txt" >&2; exit 1
}
create() {
  curl -s -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer $KEY" \
    -H "Content-Type: application/scim+json" "$URL/scim/v2/Users" \
    -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"ro$1@example.com\"}" ||
    true # 000: the server has already stopped
}

start
KEY=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["api_key"] or "")' "$WORK/ready.json")
[ -n "$KEY" ] || { echo "the first start minted no key" >&2; exit 1; }
# A group of 3,500 members: its revision is larger than sled's blob threshold (about 128 KiB),
# so sled writes it to a file of its own under blobs/, which it never syncs.
GID=$(python3 - "$URL/scim/v2" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def req(method, path, body):
    r = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return resp.status, json.loads(resp.read() or b"null")
ids = []
for b in range(4):
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{b}_{i}", "data": {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"member{b}_{i}@example.com"}}
        for i in range(875)]
    _, out = req("POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    ids += [o["location"].rsplit("/", 1)[1] for o in out["Operations"] if o["status"] == "201"]
status, g = req("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "displayName": "Everyone big", "members": [{"value": i} for i in ids]})
assert status == 201 and len(ids) == 3500, (status, len(ids))
print(g["id"])
PY
)
echo "before the fault: a group of 3,500 members created (blobs: $(ls "$MNT/data/blobs" | wc -l))"
acked=()
for i in $(seq 1 50); do [ "$(create "$i")" = 201 ] && acked+=("$i"); done
echo "before the fault: ${#acked[@]} creates acknowledged"
echo "test: disk turns read-only" >"/sys/fs/ext4/$DEV/trigger_fs_error"
grep -q "$LOOP .*emergency_ro\|$LOOP .* ro[ ,]" /proc/mounts || { echo "FAIL: the file system did not turn read-only" >&2; exit 1; }
for i in $(seq 51 60); do
  code=$(create "$i")
  case $code in
    201) echo "FAIL: a create was acknowledged on a read-only disk" >&2; exit 1 ;;
    5??|000) ;;
    *) echo "FAIL: unexpected answer $code" >&2; exit 1 ;;
  esac
done
set +e
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID"; status=$?
set -e
[ "$status" -ne 0 ] || { echo "FAIL: the server did not exit non-zero" >&2; exit 1; }
echo "on the read-only disk: writes answered 5xx, the server exited with $status: $(tail -1 "$WORK/err.txt")"

umount "$MNT"
e2fsck -fy "$LOOP" >/dev/null 2>&1 || true
mount -o errors=remount-ro "$LOOP" "$MNT"
"$BIN" check --data-dir "$MNT/data" >"$WORK/check.txt" 2>&1 || true
grep -q "The store is consistent" "$WORK/check.txt" || { echo "FAIL: check: $(tail -3 "$WORK/check.txt")" >&2; exit 1; }
tail -1 "$WORK/check.txt"
start
missing=0
for i in "${acked[@]}"; do
  total=$(curl -s -H "Authorization: Bearer $KEY" \
    "$URL/scim/v2/Users?filter=userName%20eq%20%22ro$i@example.com%22" |
    python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("totalResults", d))')
  [ "$total" = 1 ] || { missing=$((missing + 1)); echo "ro$i: $total" >&2; }
done
[ "$missing" = 0 ] || { echo "FAIL: $missing acknowledged creates lost" >&2; exit 1; }
members=$(curl -s -H "Authorization: Bearer $KEY" "$URL/scim/v2/Groups/$GID" |
  python3 -c 'import sys, json; print(len(json.load(sys.stdin).get("members", [])))')
[ "$members" = 3500 ] || { echo "FAIL: the acknowledged group has $members members, not 3500" >&2; exit 1; }
echo "the acknowledged 3,500-member group is there"
echo "after the disk is writable again: all ${#acked[@]} acknowledged creates are there: PASS"
