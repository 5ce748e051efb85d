"""A bounded concurrent load on loopback: mixed store / search / chat for a fixed duration.
Prints latency percentiles per kind, throughput, errors, and acknowledged vs stored writes.
Usage: bash bench/load.sh [--seconds 30] [--workers 8]"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import UpstreamProcess, pct  # noqa: E402
from harness import Worker  # noqa: E402


def run_load(seconds: float, workers: int) -> dict:
    """Runs the mixed load against a fresh memgate; returns the report (errors and lost
    writes included, so callers decide what fails)."""
    up = UpstreamProcess()
    w = Worker(name="load").start()
    try:
        admin = httpx.post(f"{w.url}/admin/init", json={"admin_password": "load password"}).json()["api_key"]
        httpx.put(f"{w.url}/admin/config", headers={"Authorization": f"Bearer {admin}"},
                  json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "model": "up"}}).raise_for_status()
        key = httpx.post(f"{w.url}/admin/keys", json={"name": "load", "owner": "load"}, headers={"Authorization": f"Bearer {admin}"}).json()["key"]
        lat: dict[str, list[float]] = {"store": [], "search": [], "chat": []}
        errors: list[str] = []
        acked: set[str] = set()
        lock = threading.Lock()
        stop = time.time() + seconds

        def run(seed: int) -> None:
            rnd = random.Random(seed)
            c = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            while time.time() < stop:
                kind = rnd.choices(["store", "search", "chat"], weights=[5, 4, 1])[0]
                t = time.perf_counter()
                try:
                    if kind == "store":
                        r = c.post("/api/memories", json={"content": f"load {seed} {uuid.uuid4().hex}", "tags": ["load"]})
                    elif kind == "search":
                        r = c.post("/api/search", json={"query": f"load {rnd.randint(0, 99)}", "n_results": 5})
                    else:
                        r = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        if r.status_code == 200:
                            lat[kind].append(ms)
                            if kind == "store":
                                acked.add(r.json()["content_hash"])
                        else:
                            errors.append(f"{kind} {r.status_code} {r.text[:120]}")
                except httpx.HTTPError as e:
                    with lock:
                        errors.append(f"{kind} {type(e).__name__}")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        stored = set()
        page = 1
        while True:
            r = c.get("/api/memories", params={"page": page, "page_size": 100, "tag": "load"}).json()
            stored |= {m["content_hash"] for m in r["memories"]}
            if not r["has_more"]:
                break
            page += 1
        total = sum(len(v) for v in lat.values())
        report = {
            "seconds": seconds, "workers": workers, "requests_ok": total, "errors": len(errors),
            "throughput_rps": round(total / seconds, 1),
            "acknowledged_writes": len(acked), "stored_writes": len(stored), "lost_writes": len(acked - stored),
            "first_errors": errors[:5],
        }
        for k, v in lat.items():
            if v:
                report[f"{k}_p50_ms"], report[f"{k}_p99_ms"] = round(pct(v, 50), 2), round(pct(v, 99), 2)
        return report
    finally:
        w.stop()
        up.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    report = run_load(args.seconds, args.workers)
    print(json.dumps(report, indent=2))
    (Path(__file__).resolve().parent / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(1 if report["errors"] or report["lost_writes"] else 0)


if __name__ == "__main__":
    main()
