"""Reads one schemathesis NDJSON report; prints the figures of the run and each distinct failure.

Usage: figures.py ROLE REPORT.ndjson
Prints `ROLE: N requests, N 5xx, N violations` and exits 1 if there was any 5xx, any failed check
or any error of the run itself (a crashed generator is not a pass).
"""

import json
import sys


def main() -> int:
    role, path = sys.argv[1], sys.argv[2]
    requests = server_errors = errors = 0
    failures: dict[tuple[str, str, str], int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if "NonFatalError" in event or "FatalError" in event:
                errors += 1
                body = event.get("NonFatalError") or event.get("FatalError") or {}
                label = body.get("label") or body.get("value", {}).get("title", "")
                print(f"  error: {label}: {str(body.get('value', ''))[:300]}")
                continue
            done = event.get("ScenarioFinished")
            if not done:
                continue
            recorder = done.get("recorder", {})
            for interaction in recorder.get("interactions", {}).values():
                requests += 1
                response = interaction.get("response") or {}
                if int(response.get("status_code", 0)) >= 500:
                    server_errors += 1
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = check.get("failure_info", {}).get("failure", {})
                    key = (
                        failure.get("operation", recorder.get("label", "?")),
                        check.get("name", "?"),
                        (failure.get("message") or failure.get("title") or "").replace("\n", " | ")[:240],
                    )
                    failures[key] = failures.get(key, 0) + 1
    for (operation, check, message), n in sorted(failures.items()):
        print(f"  {check} {operation}: {message} (x{n})")
    print(f"{role}: {requests} requests, {server_errors} 5xx, {len(failures)} violations, {errors} errors")
    return 1 if server_errors or failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
