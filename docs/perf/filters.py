# Loads N users through /Bulk, then times filters and paging. Usage: filters.py BASE_URL KEY N
import json, sys, time, urllib.request
base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def req(method, path, body=None):
    r = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(r, timeout=600) as resp:
        return json.loads(resp.read() or b"null")
t = time.time()
for start in range(0, n, 1000):
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i), "data": {"userName": f"user{i:06d}@example.com",
            "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"}, "emails": [{"value": f"user{i:06d}@example.com", "primary": True}], "active": True}}
           for i in range(start, min(n, start + 1000))]
    out = req("POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    bad = [o for o in out["Operations"] if o["status"] != "201"]
    assert not bad, bad[:2]
print(f"loaded {n} users in {time.time()-t:.1f}s")
for q in ['userName+co+%22user099%22', 'userName+eq+%22user050000@example.com%22', 'name.familyName+co+%22Family9999%22', 'active+eq+true']:
    for _ in range(3):
        t = time.time(); out = req("GET", f"/Users?filter={q}&count=10"); dt = time.time() - t
    print(f"{q}: total {out['totalResults']}, {dt*1000:.0f} ms")
t = time.time(); out = req("GET", "/Users?count=100&startIndex=50000"); print(f"page at 50000: {(time.time()-t)*1000:.0f} ms")
