"""A flooding store credential, in a process of its own as an attacker's would be: ``count``
requests for ``path`` sent at once, each answer printed (test_abuse.py,
test_workers_postgres.py).

Run in the test's own process, its threads' TLS handshakes and reads shared the interpreter
with the gateway under test, so a loaded machine measured that interpreter, not the gateway.
The child starts, says "ready", waits for "go", floods and prints the answers as JSON; the
credential comes in its environment, not on its command line.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx


class Flood:
    """The flooding child, started and waiting: :meth:`go` floods and returns the answers."""

    def __init__(self, base_url: str, root_ca: Path, path: str, credential: str,
                 count: int) -> None:
        self.child = subprocess.Popen(
            [sys.executable, __file__, base_url, str(root_ca), path, str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "FLOOD_CREDENTIAL": credential})
        assert self.child.stdout is not None
        ready = self.child.stdout.readline().strip()
        assert ready == "ready", ready

    def go(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write("go\n")
        self.child.stdin.flush()

    def answers(self) -> list[dict[str, Any]]:
        """Each request's status, JSON body and Retry-After, or its transport error."""
        out, _ = self.child.communicate(timeout=120)
        assert self.child.returncode == 0, out
        return list(json.loads(out))


def _one(client: httpx.Client, path: str, credential: str) -> dict[str, Any]:
    try:
        r = client.get(path, headers={"Authorization": f"Bearer {credential}"})
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"status": r.status_code, "body": r.json(),
            "retry_after": r.headers.get("retry-after")}


def main() -> None:
    base, cafile, path, count = sys.argv[1:5]
    credential = os.environ["FLOOD_CREDENTIAL"]
    trust = ssl.create_default_context(cafile=cafile)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    with httpx.Client(base_url=base, verify=trust, timeout=30, limits=limits) as client, \
            ThreadPoolExecutor(int(count)) as pool:
        print("ready", flush=True)
        sys.stdin.readline()
        answers = list(pool.map(lambda _: _one(client, path, credential), range(int(count))))
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
