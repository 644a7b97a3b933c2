"""Sustained ingest through the web service on loopback, beside the same server's ceiling on a
trivial endpoint.

Starts ``linewatch serve`` on 127.0.0.1 over a fresh store, then offers reports at a fixed rate
(open loop: a request is sent on schedule whether or not earlier ones have returned, so a slow
server shows up as latency, not as a lower offered rate), ``--batch`` reports per request, for
``--duration`` seconds. Prints the latency percentiles, the achieved rate, and counts the stored
records: each must be stored exactly once. Then measures the ceiling: requests per second on
``GET /api/v1/health`` with ``--concurrency`` requests in flight.

    .venv/bin/python bench/bench_service.py                       # 1,000 reports/s, batches of 10
    .venv/bin/python bench/bench_service.py --rate 1000 --batch 1 # one report per request
    .venv/bin/python bench/bench_service.py --db postgresql://USER@HOST:PORT/DB   # an empty store
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx  # only to wait for the server to start
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int, *, cpu: int | None) -> subprocess.Popen:
    cmd = [str(BIN / "linewatch"), "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        cmd = ["taskset", "-c", str(cpu)] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:]}")


def make_record(i: int) -> dict:
    return {"id": f"load-{i:09d}", "kind": "explosion", "time": f"2026-06-15T{(i // 3600) % 24:02d}:"
            f"{(i // 60) % 60:02d}:{i % 60:02d}Z", "lon": 37.0 + (i % 1000) * 1e-3,
            "lat": 48.0 + (i % 997) * 1e-3, "radius_m": 500.0, "explosion_type": "impact",
            "source_kind": "observation_post", "source_id": f"OP-{i % 50:03d}"}


class _Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for the load
    (a client this thin keeps the load generator from being what is measured)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.monotonic()

    async def post(self, host: str, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        return await self._response()

    async def get(self, host: str, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload


async def offered_load(base: str, token: str, *, rate: float, batch: int, duration_s: float
                       ) -> tuple[np.ndarray, int, int, float]:
    """Send ``rate`` reports/s in requests of ``batch`` for ``duration_s`` (open loop: request k
    is due at ``k * batch / rate``; its latency counts from then, so a server that falls behind
    shows it). Returns latencies (s), reports acknowledged as added, failed requests, wall time."""
    host, port = base.split("//", 1)[1].split(":")
    n_req = int(rate * duration_s / batch)
    interval = batch / rate
    bodies = [json.dumps([make_record(k * batch + j) for j in range(batch)]).encode()
              for k in range(n_req)]
    idle: list[_Conn] = []
    lat: list[float] = []
    added = failed = 0

    async def conn() -> _Conn:
        while idle:
            c = idle.pop()
            if time.monotonic() - c.used < 2.0:   # uvicorn closes a connection idle for 5 s
                return c
            c.writer.close()
        return _Conn(*await asyncio.open_connection(host, int(port)))

    async def one(k: int, due: float) -> None:
        nonlocal added, failed
        try:
            c = await conn()
            status, payload = await c.post(f"{host}:{port}", "/api/v1/reports", token, bodies[k])
            lat.append(time.perf_counter() - due)
            c.used = time.monotonic()
            idle.append(c)
            if status == 200:
                added += json.loads(payload)["added"]
            else:
                failed += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            failed += 1
            print(f"request {k} failed: {exc!r}", file=sys.stderr)

    start = time.perf_counter()
    tasks = []
    for k in range(n_req):
        due = start + k * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    for c in idle:
        c.writer.close()
    return np.array(lat), added, failed, wall


async def ceiling(base: str, *, concurrency: int, duration_s: float) -> tuple[float, np.ndarray]:
    """Closed loop on GET /api/v1/health: ``concurrency`` connections, each sending its next
    request when the last is answered; requests per second and latencies."""
    host, port = base.split("//", 1)[1].split(":")
    lat: list[float] = []
    stop = time.perf_counter() + duration_s

    async def worker() -> None:
        c = _Conn(*await asyncio.open_connection(host, int(port)))
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await c.get(f"{host}:{port}", "/api/v1/health")
            lat.append(time.perf_counter() - t0)
        c.writer.close()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat) / (time.perf_counter() - t0), np.array(lat)


def wrk_ceiling(base: str, *, concurrency: int, duration_s: float) -> tuple[float, str] | None:
    """The same ceiling measured by wrk (C, so the client is not the bottleneck), if installed."""
    import re
    import shutil
    if shutil.which("wrk") is None:
        return None
    res = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{int(duration_s)}s", "--latency",
                          f"{base}/api/v1/health"], capture_output=True, text=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    p99 = re.search(r"99%\s+(\S+)", res.stdout)
    p50 = re.search(r"50%\s+(\S+)", res.stdout)
    if rps is None:
        return None
    return float(rps.group(1)), f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"


def pct(a: np.ndarray) -> str:
    if len(a) == 0:
        return "no answers"
    p50, p95, p99 = np.percentile(a * 1000, [50, 95, 99])
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {a.max() * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0, help="reports per second offered")
    ap.add_argument("--batch", type=int, default=10, help="reports per request")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    ap.add_argument("--concurrency", type=int, default=32, help="requests in flight for the ceiling")
    ap.add_argument("--ceiling-s", type=float, default=10.0, help="seconds of the ceiling measurement")
    ap.add_argument("--server-cpu", type=int, default=0, help="pin the server to this CPU (-1: no pin)")
    ap.add_argument("--db", help="an empty store's URL (sqlite:///PATH or postgresql://...); "
                    "default: a new SQLite file in a temporary directory")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lw-bench-service-") as tmp:
        db = args.db or str(Path(tmp) / "load.sqlite")
        token = subprocess.run([str(BIN / "linewatch"), "user", "add", "loader", "--role", "monitor",
                                "--db", str(db)], capture_output=True, text=True, check=True).stdout.strip()
        port = free_port()
        proc = start_server(db, port, cpu=None if args.server_cpu < 0 else args.server_cpu)
        base = f"http://127.0.0.1:{port}"
        try:
            if args.server_cpu >= 0 and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {c for c in os.sched_getaffinity(0) if c != args.server_cpu}
                                     or os.sched_getaffinity(0))
            lat, added, failed, wall = asyncio.run(offered_load(
                base, token, rate=args.rate, batch=args.batch, duration_s=args.duration))
            offered = int(args.rate * args.duration / args.batch) * args.batch
            from linewatch.store import open_store
            with open_store(db) as store:
                stored = store.conn.execute("SELECT count(*), count(DISTINCT id) FROM records").fetchone()
                logged = store.conn.execute(
                    "SELECT count(*) FROM audit_log WHERE entry_type = 'record'").fetchone()[0]
            print(f"ingest: {args.rate:,.0f} reports/s offered in requests of {args.batch} for "
                  f"{args.duration:.0f} s: {added / wall:,.0f} reports/s stored; {pct(lat)}; "
                  f"{failed} failed requests")
            print(f"  counted: {offered:,} sent, {added:,} acknowledged, {stored[0]:,} rows, "
                  f"{stored[1]:,} distinct ids, {logged:,} audit entries -> "
                  + ("exactly once" if offered == added == stored[0] == stored[1] == logged else "MISMATCH"))
            rps, hlat = asyncio.run(ceiling(base, concurrency=args.concurrency, duration_s=args.ceiling_s))
            print(f"ceiling: GET /api/v1/health, {args.concurrency} in flight (this script's client): "
                  f"{rps:,.0f} requests/s; {pct(hlat)}")
            by_wrk = wrk_ceiling(base, concurrency=args.concurrency, duration_s=max(1.0, args.ceiling_s))
            if by_wrk is not None:
                print(f"ceiling: the same with wrk: {by_wrk[0]:,.0f} requests/s; {by_wrk[1]}")
                rps = max(rps, by_wrk[0])
            print(f"  ingest requests/s in the run above: {len(lat) / wall:,.0f} "
                  f"({len(lat) / wall / rps:.2f} of the ceiling)")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0 if (failed == 0 and offered == added == stored[0] == logged) else 1


if __name__ == "__main__":
    sys.exit(main())
