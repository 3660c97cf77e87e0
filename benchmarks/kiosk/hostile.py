"""A hostile background for the kiosk benchmark (``python -m benchmarks.kiosk --hostile``):
slow connections and a flooding credential at the same time, from addresses of their own.

Runs in a process of its own (``python -m benchmarks.kiosk.hostile``), so its work does not
share the load generator's interpreter (the well-behaved kiosk's latencies would then
measure this module's GIL, not the gateway):

- ``slow`` connections from 127.0.0.2, each sending a request head one byte a second and
  never finishing it; when the gateway closes one (its ``header_timeout_s``: 408), another is
  opened in its place;
- ``flood`` connections from 127.0.0.3 with one valid store credential, each sending kiosk
  requests back to back, as fast as the gateway answers (mostly 429 once its rate is spent).

Loopback only, bounded in connections and in time (``duration_s``).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

SLOW_ADDRESS, FLOOD_ADDRESS = "127.0.0.2", "127.0.0.3"
#: The checkout holding benchmarks/ (the attack process runs from it, as the servers do).
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Attack:
    """What to send: ``slow`` and ``flood`` connections to ``base_url`` for ``duration_s``."""

    base_url: str
    root_ca: str
    path: str
    credential: str
    slow: int = 64
    flood: int = 8
    duration_s: float = 10.0


@dataclass(frozen=True)
class AttackReport:
    flood_sent: int
    flood_answers: dict[int, int]
    flood_errors: int
    slow_opened: int
    slow_closed_408: int
    seconds: float
    #: CPU the attack process used, in cores (it shares this machine's with the gateway).
    cores: float

    def line(self) -> str:
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(self.flood_answers.items()))
        return (f"Attack during the run: a flooding credential sent {self.flood_sent} requests "
                f"({self.flood_sent / self.seconds:.0f}/s; answers {answers or 'none'}; "
                f"{self.flood_errors} failed), and {self.slow_opened} slow connections were "
                f"opened ({self.slow_closed_408} closed by the gateway with 408); the attack "
                f"process used {self.cores:.2f} cores.")


async def _slow(attack: Attack, trust: ssl.SSLContext, stop: float, counts: Counter[str]
                ) -> None:
    host = urlsplit(attack.base_url)
    head = f"GET {attack.path} HTTP/1.1\r\nHost: {host.hostname}\r\nX-Slow: ".encode()
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(
                host.hostname, host.port, ssl=trust, local_addr=(SLOW_ADDRESS, 0))
        except OSError:
            await asyncio.sleep(0.5)
            continue
        counts["opened"] += 1
        try:
            writer.write(head[:8])
            for byte in head[8:] + b"a" * 600:
                if time.monotonic() >= stop:
                    break
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(64), timeout=1.0)
                except TimeoutError:
                    writer.write(bytes([byte]))
                    continue
                if answer.startswith(b"HTTP/1.1 408"):
                    counts["408"] += 1
                break
        except OSError:
            pass
        finally:
            writer.close()


async def _flood(attack: Attack, trust: ssl.SSLContext, stop: float, counts: Counter[str]
                 ) -> None:
    transport = httpx.AsyncHTTPTransport(verify=trust, local_address=FLOOD_ADDRESS)
    headers = {"Authorization": f"Bearer {attack.credential}"}
    async with httpx.AsyncClient(base_url=attack.base_url, transport=transport,
                                 timeout=5) as client:
        while time.monotonic() < stop:
            counts["sent"] += 1
            try:
                response = await client.get(attack.path, headers=headers)
                counts[f"status:{response.status_code}"] += 1
            except httpx.HTTPError:
                counts["failed"] += 1


async def _attack(attack: Attack) -> AttackReport:
    trust = ssl.create_default_context(cafile=attack.root_ca)
    started, cpu = time.monotonic(), time.process_time()
    stop = started + attack.duration_s
    slow: Counter[str] = Counter()
    flood: Counter[str] = Counter()
    await asyncio.gather(*(_slow(attack, trust, stop, slow) for _ in range(attack.slow)),
                         *(_flood(attack, trust, stop, flood) for _ in range(attack.flood)))
    answers = {int(k.split(":")[1]): n for k, n in flood.items() if k.startswith("status:")}
    seconds = time.monotonic() - started
    return AttackReport(flood["sent"], answers, flood["failed"], slow["opened"], slow["408"],
                        seconds, (time.process_time() - cpu) / seconds)


READY = "attacking"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.kiosk.hostile ATTACK_JSON``: prints READY when its imports are
    done and the attack starts, then the report as one JSON line."""
    args = sys.argv[1:] if argv is None else argv
    attack = Attack(**json.loads(args[0]))
    print(READY, flush=True)
    print(json.dumps(asdict(asyncio.run(_attack(attack)))), flush=True)
    return 0


@contextmanager
def hostile(attack: Attack) -> Iterator[list[AttackReport]]:
    """Run ``attack`` in a process of its own (a fresh interpreter importing this module
    only, so its start does not load the machine during the measured run) from the moment
    it is ready until its ``duration_s`` ends; the list it yields holds the report once the
    block has left.

    Raises RuntimeError when the attack process fails or does not start.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.kiosk.hostile", json.dumps(asdict(attack))],
        stdout=subprocess.PIPE, text=True, cwd=CHECKOUT)
    assert process.stdout is not None
    reports: list[AttackReport] = []
    try:
        if process.stdout.readline().strip() != READY:
            raise RuntimeError(f"the attack process did not start (exit {process.wait()})")
        yield reports
        line = process.stdout.readline()
        if process.wait(timeout=attack.duration_s + 30) != 0 or not line:
            raise RuntimeError(f"the attack process failed (exit {process.returncode})")
        values = json.loads(line)
        values["flood_answers"] = {int(k): v for k, v in values["flood_answers"].items()}
        reports.append(AttackReport(**values))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
