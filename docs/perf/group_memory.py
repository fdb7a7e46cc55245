# The resident memory large groups take once read. Loads N users through /Bulk (10,000 by
# default), makes G groups (6) of all of them, reads each group without its members, then with
# them six times, and prints the server's resident memory after each round (from /proc, so run
# it on the server's machine).
# Usage: group_memory.py BASE_URL KEY SERVER_PID [N] [G]
import json, sys, urllib.request

base, key, pid = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000
groups = int(sys.argv[5]) if len(sys.argv) > 5 else 6


def req(method, path, body=None):
    r = urllib.request.Request(base + path, method=method,
                               data=json.dumps(body).encode() if body is not None else None,
                               headers={"Authorization": "Bearer " + key,
                                        "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return resp.read()


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no process {pid}")


ids = []
for start in range(0, n, 1000):
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": {"userName": f"gm{i:07d}@example.com", "displayName": f"Member {i}"}}
           for i in range(start, min(n, start + 1000))]
    out = json.loads(req("POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                           "Operations": ops}))
    for o in out["Operations"]:
        if o["status"] != "201":
            raise SystemExit(f"bulk: {o}")
        ids.append(o["location"].rsplit("/", 1)[1])
gids = []
for g in range(groups):
    made = json.loads(req("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                              "displayName": f"group-memory-{g}"}))
    gids.append(made["id"])
    for k in range(0, len(ids), 1000):
        req("PATCH", f"/Groups/{made['id']}?excludedAttributes=members",
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "add", "path": "members",
                             "value": [{"value": i, "display": f"Member {i[:8]}"} for i in ids[k:k + 1000]]}]})
for g in gids:
    req("GET", f"/Groups/{g}?excludedAttributes=members")
before = rss_mib()
rounds = []
for _ in range(6):
    size = sum(len(req("GET", f"/Groups/{g}")) for g in gids)
    rounds.append(rss_mib())
print(f"{groups} groups of {len(ids)} members ({size // groups} bytes an answer): resident "
      f"{before:.1f} MiB before reading their members, then {', '.join(f'{r:.1f}' for r in rounds)} MiB "
      f"after each round of reads (+{rounds[-1] - before:.1f} MiB, "
      f"{(rounds[-1] - before) * 1024 * 1024 / (groups * len(ids)):.0f} bytes a member)")
