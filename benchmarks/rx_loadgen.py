"""A small load generator for the prescription benchmark: N worker threads, each with its own keep-alive
``http.client`` connection, take pre-built requests from a shared queue and record their latency.

    run_phase(host, port, requests, concurrency) -> PhaseResult

Each request is ``(method, path, body_bytes, headers, expected_statuses)``. The bodies are serialised before the
clock starts, so the generator spends its CPU on the wire, not on JSON.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PhaseResult:
    name: str
    count: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    bodies: dict[int, dict] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
        return ordered[index]

    def line(self) -> str:
        bad = sum(n for s, n in self.statuses.items() if s not in (200, 201))
        return (f"{self.name:<12} {self.count:>6} requests in {self.seconds:6.2f} s = {self.throughput:7.1f} req/s   "
                f"p50 {self.percentile(50):6.1f} ms  p95 {self.percentile(95):6.1f} ms  "
                f"p99 {self.percentile(99):6.1f} ms  max {max(self.latencies_ms or [0]):6.1f} ms  "
                f"non-2xx {bad}")


def run_phase(name: str, host: str, port: int, requests: list[tuple], concurrency: int,
              keep_bodies: bool = False) -> PhaseResult:
    lock = threading.Lock()
    cursor = {"i": 0}
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: list[str] = []
    bodies: dict[int, dict] = {}
    start_gate = threading.Barrier(concurrency + 1)

    def take() -> int | None:
        with lock:
            i = cursor["i"]
            if i >= len(requests):
                return None
            cursor["i"] = i + 1
            return i

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        local_lat: list[float] = []
        start_gate.wait()
        while True:
            i = take()
            if i is None:
                break
            method, path, body, headers, expected = requests[i]
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                with lock:
                    errors.append(f"{path}: {exc!r}")
                    statuses[-1] += 1
                continue
            local_lat.append((time.perf_counter() - t0) * 1000)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            with lock:
                statuses[response.status] += 1
                if response.status not in expected and len(errors) < 20:
                    errors.append(f"{method} {path} → {response.status} {payload[:300]!r}")
                if keep_bodies and response.status in expected:
                    bodies[i] = json.loads(payload)
        conn.close()
        with lock:
            latencies.extend(local_lat)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return PhaseResult(name=name, count=len(requests), seconds=seconds, latencies_ms=latencies, statuses=statuses,
                       errors=errors, bodies=bodies)
