"""Runs scim2-tester (an independent SCIM checker, PyPI `scim2-tester[httpx2]==0.5.2`) against a
SCIM base URL and prints one JSON document: every result, and counts per status.

Usage: SCIM_TOKEN=... python scim2_tester_check.py --url URL [--timeout S]

Exit status: 0 when no result is ERROR, CRITICAL or DEVIATION; 1 otherwise; 2 when scim2-tester
cannot run at all. `cargo xtask conformance` installs scim2-tester into `.venv-scim` and calls this.
"""

import argparse
import json
import os
import sys

FAILING = {"ERROR", "CRITICAL", "DEVIATION"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="SCIM base URL (prefix of /ServiceProviderConfig)")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    token = os.environ.get("SCIM_TOKEN", "")

    try:
        import httpx2
        from scim2_client.engines.httpx2 import SyncSCIMClient
        from scim2_tester import check_server
    except ImportError as e:  # the venv is not set up
        print(json.dumps({"error": f"scim2-tester is not installed: {e}"}))
        return 2

    http = httpx2.Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=args.timeout,
    )
    client = SyncSCIMClient(http)
    try:
        results = check_server(client)
    except Exception as e:  # discovery or transport failure
        print(json.dumps({"error": f"scim2-tester stopped: {type(e).__name__}: {e}"}))
        return 2

    counts: dict[str, int] = {}
    out = []
    for r in results:
        status = r.status.name
        counts[status] = counts.get(status, 0) + 1
        out.append(
            {
                "status": status,
                "title": r.title,
                "resource_type": r.resource_type,
                "reason": r.reason,
                "tags": sorted(r.tags or []),
            }
        )
    failed = sum(n for s, n in counts.items() if s in FAILING)
    print(json.dumps({"counts": counts, "failed": failed, "results": out}, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
