"""What response rate limiting costs per UDP reply: `Limiter.after` timed in-process.

Replies are real ones from the fixture zones; the clock advances 1 ms per call. Cases:
one client under the rate (every reply passes), one client flooding one name (nearly every
reply suppressed, half slipped), NXDOMAIN for random names (the SOA owner parsed from the
reply), and a spoofed flood from 100,000 /24s (every call a new account: the table full,
the oldest evicted). Run:  python -m bench.ratelimit_cost [--calls 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import dns.message

from resolver.query.limiter import Limiter
from resolver.query.ratelimit import RateLimitSettings
from resolver.query.stages import Facts
from tests.property.world import load, make_handler


def per_call(limiter: Limiter, items: list[tuple[Facts, bytes, str]], calls: int) -> float:
    """Median of 5 rounds of microseconds per after() call."""
    rounds = []
    clock = time.perf_counter()
    for _ in range(5):
        started = time.perf_counter()
        for i in range(calls):
            facts, reply, source = items[i % len(items)]
            limiter.after(facts, reply, source, False, clock + i * 0.001)
        rounds.append((time.perf_counter() - started) / calls * 1e6)
        clock += calls * 0.001 + 100
    return sorted(rounds)[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200000)
    calls = parser.parse_args().calls
    handler = make_handler(load(Path(tempfile.mkdtemp())))

    def item(name: str, source: str = "192.0.2.1") -> tuple[Facts, bytes, str]:
        query = dns.message.make_query(name, "A")
        reply = handler.handle(query.to_wire(), source, False) or b""
        facts = handler.facts
        return Facts(question=facts.question), reply, source

    www = item("www.example.com")
    cases = {
        "under the rate (pass)": (RateLimitSettings(2000), [www]),
        "one client flooding (suppressed)": (RateLimitSettings(10), [www]),
        "nxdomain, random names": (
            RateLimitSettings(10),
            [item(f"n{i}.example.com") for i in range(1000)],
        ),
        "spoofed: 100,000 /24s": (
            RateLimitSettings(10),
            [(www[0], www[1], f"10.{i // 256 % 256}.{i % 256}.1") for i in range(100000)],
        ),
    }

    async def on_a_loop() -> None:  # as in the server: the sweep timer is armed once
        for title, (settings, items) in cases.items():
            limiter = Limiter(settings, lambda family, label: None)
            print(f"{title:36} {per_call(limiter, items, calls):6.2f} us per reply")
            limiter.close()

    asyncio.run(on_a_loop())


if __name__ == "__main__":
    main()
