# Creates a 10,000-member group from users 30001..40000 (run filters.py with N >= 40000 first), then times reads and a PATCH. Usage: big_group.py BASE_URL KEY
import json, sys, time, urllib.request
base, key = sys.argv[1], sys.argv[2]
def req(method, path, body=None):
    r = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return json.loads(resp.read() or b"null")
ids = [u["id"] for s in range(1, 10001, 1000) for u in req("GET", f"/Users?count=1000&startIndex={s+30000}&attributes=id")["Resources"]]
t = time.time(); g = req("POST", "/Groups", {"displayName": "Big2", "members": [{"value": i} for i in ids]}); print(f"create 10k-member group: {(time.time()-t)*1000:.0f} ms")
gid = g["id"]
for q in ["?excludedAttributes=members", "", "?attributes=displayName"]:
    for _ in range(3):
        t = time.time(); r = req("GET", f"/Groups/{gid}{q}"); dt = time.time()-t
    print(f"GET group{q or ' (full)'}: {dt*1000:.1f} ms, members={len(r.get('members', []))}")
more = [u["id"] for u in req("GET", "/Users?count=1&startIndex=20000")["Resources"]]
t = time.time(); req("PATCH", f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": more[0]}]}]}); print(f"PATCH add 1 member: {(time.time()-t)*1000:.0f} ms")
t = time.time(); req("GET", f"/Users/{ids[0]}"); print(f"GET a member user: {(time.time()-t)*1000:.1f} ms")
t = time.time(); r = req("GET", "/Groups?filter=displayName+eq+%22Big2%22&excludedAttributes=members"); print(f"filter group excl members: {(time.time()-t)*1000:.1f} ms")
