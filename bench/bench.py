"""memgate's figures, measured as ../shared/BENCHMARKS.md asks: warm-up, then 200+ requests
per figure, p50/p99, alternating A/B pairs for differences, loopback only."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import ROOT, Worker, free_port, tool_env  # noqa: E402

RESULTS: dict = {}
# (figure, summary row, target) for the table.
TABLE: list = []


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(name, ms, note=""):
    row = {"p50_ms": round(pct(ms, 50), 2), "p99_ms": round(pct(ms, 99), 2), "n": len(ms)}
    if note:
        row["note"] = note
    RESULTS[name] = row
    print(f"{name:<48} p50 {row['p50_ms']:>8.2f} ms   p99 {row['p99_ms']:>8.2f} ms   n={row['n']} {note}")
    return row


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def measure(fn, n, warm=20):
    for _ in range(warm):
        fn()
    return [timed(fn) for _ in range(n)]


def interleaved(fns, n, warm=20):
    """Runs every function once per round, n rounds; returns one list of timings per
    function. Machine drift hits every function alike, so per-round differences are
    meaningful. The order is shuffled each round (seeded): on two cores a request pays for
    the tail work of the one before it (another runtime's logging, a usage write), and a
    fixed order would always charge the same side."""
    rng = random.Random(7)
    for _ in range(warm):
        for f in fns:
            f()
    out = [[] for _ in fns]
    order = list(range(len(fns)))
    for _ in range(n):
        rng.shuffle(order)
        for i in order:
            out[i].append(timed(fns[i]))
    return out


def own_cost(name, route_ms, floors, minus=None):
    """Records a route's p50/p99 and its own cost as the median per-round difference
    against floors measured in the same rounds (and minus `minus`, e.g. the upstream called
    directly): `own` against the trivial memgate route (BENCHMARKS.md's definition),
    `strict` against the second floor (a refused POST, or a trivial JS proxy Worker)."""
    row = summary(name, route_ms)
    base = minus or [0.0] * len(route_ms)
    for kind, fl in zip(("own", "strict"), floors):
        diffs = [r - m - f for r, m, f in zip(route_ms, base, fl)]
        row[f"{kind}_p50_ms"] = round(pct(diffs, 50), 2)
    print(f"{'':<48} own p50 {row['own_p50_ms']:.2f} ms, stricter {row['strict_p50_ms']:.2f} ms")
    return row


def populate(c: httpx.Client, total: int, have: int) -> None:
    """Imports synthetic memories in NDJSON batches until the owner has `total`."""
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango".split()
    batch = 2000
    i = have
    while i < total:
        n = min(batch, total - i)
        lines = []
        for j in range(i, i + n):
            w = " ".join(words[(j * k) % len(words)] for k in (1, 3, 7, 11))
            lines.append(json.dumps({"content": f"memory {j}: {w} note {uuid.uuid4().hex[:8]}", "tags": [words[j % len(words)]]}))
        for attempt in range(3):
            r = c.post("/api/import", content="\n".join(lines), headers={"content-type": "application/x-ndjson"}, timeout=600)
            if r.status_code < 500:
                break
            time.sleep(2)  # importing is idempotent: a retried batch skips what landed
        r.raise_for_status()
        i += n


def trivial_route(w: Worker):
    """memgate's trivial route: `GET /v1/models` without a key is routed, checked and
    refused (401) with no I/O: the runtime's floor for a request that reaches our code."""
    anon = httpx.Client(base_url=w.url, timeout=60)
    r = anon.get("/v1/models")
    assert r.status_code == 401, r.status_code
    return lambda: anon.get("/v1/models")


def bench_memory(w: Worker, key: str, n: int, sizes: list[int]) -> None:
    c = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    get_floor = trivial_route(w)
    # The runtime's cost of a POST with a JSON body (auth, body read, a 400 from validation).
    post_floor = lambda: c.post("/api/memories", json={"content": ""})
    g, p = interleaved([get_floor, post_floor], n)
    summary("floor: trivial memgate route (401, no I/O)", g)
    summary("floor: POST /api/memories refused (no storage)", p)
    summary("GET /api/health (KV read)", measure(lambda: c.get("/api/health"), n))
    counter = iter(range(10**9))
    store = lambda: c.post("/api/memories", json={"content": f"bench store {next(counter)} {uuid.uuid4().hex}"}).raise_for_status()
    h = c.post("/api/memories", json={"content": "bench read target"}).json()["content_hash"]
    g, ms = interleaved([get_floor, lambda: c.get(f"/api/memories/{h}")], n)
    row = own_cost("GET /api/memories/{hash}", ms, (g, g))
    TABLE.append(("read one memory", row, ""))
    have = c.get("/api/stats").json()["total_memories"]
    queries = ["alpha delta golf", "memory about tango and kilo", "november oscar", "which note mentions hotel india", "sierra"]
    qi = iter(range(10**9))
    search = lambda: c.post("/api/search", json={"query": queries[next(qi) % len(queries)], "n_results": 5}).raise_for_status()
    for size in sizes:
        t0 = time.time()
        populate(c, size, have)
        have = max(have, size)
        print(f"  (populated {size} memories in {time.time() - t0:.0f}s)")
        g, p, stores, ms = interleaved([get_floor, post_floor, store, search], n)
        row = own_cost(f"POST /api/memories at {size} memories", stores, (g, p))
        RESULTS[f"store_own_cost_p50_ms_{size}"] = row["own_p50_ms"]
        TABLE.append((f"store at {size:,}", row, "<= 5"))
        row = own_cost(f"POST /api/search at {size} memories", ms, (g, p))
        RESULTS[f"search_own_cost_p50_ms_{size}"] = row["own_p50_ms"]
        target = {10000: "<= 20", 100000: "<= 50"}.get(size, "")
        TABLE.append((f"search at {size:,}", row, target))


def bench_events(w: Worker, key: str, n: int) -> None:
    got: dict[str, float] = {}
    ready = threading.Event()

    def listen():
        try:
            _listen()
        except httpx.HTTPError:
            pass  # the runtime stopped at the end of the run

    def _listen():
        with httpx.stream("GET", f"{w.url}/api/events", params={"api_key": key}, timeout=None) as r:
            for line in r.iter_lines():
                if line.startswith("event: connected"):
                    ready.set()
                if line.startswith("data:") and "content_hash" in line:
                    d = json.loads(line[5:])
                    if d.get("content_hash"):
                        got[d["content_hash"]] = time.perf_counter()

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(30)
    c = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"})
    lat, after = [], []
    for i in range(n + 10):
        t = time.perf_counter()
        h = c.post("/api/memories", json={"content": f"event bench {i} {uuid.uuid4().hex}"}).json()["content_hash"]
        answered = time.perf_counter()
        deadline = time.time() + 5
        while h not in got and time.time() < deadline:
            time.sleep(0.0002)
        if h in got and i >= 10:
            lat.append((got[h] - t) * 1000)
            after.append(max(0.0, got[h] - answered) * 1000)
    summary("event: POST sent -> memory_stored received", lat, "(includes the POST itself)")
    row = summary("event: POST answered -> memory_stored received", after)
    TABLE.append(("event latency (answered -> received)", row, "<= 10 (absolute)"))


class UpstreamProcess:
    """The scripted upstream (bench/upstream.py) in its own process. In the measuring
    process it would compete with the client for the GIL: a client woken by memgate's first
    frame held up the upstream's next write by milliseconds (seen as gaps between upstream
    chunks inside the Worker), a cost no real upstream imposes."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "upstream.py")], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("the scripted upstream did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def ttft(client: httpx.Client, url: str, headers: dict, body: dict) -> float:
    """Time to the first content frame. The rest of the stream is read too, as a client
    does: leaving early would close the connection and make the next request reconnect."""
    t = time.perf_counter()
    first = None
    with client.stream("POST", url, headers=headers, json=body) as r:
        for line in r.iter_lines():
            if first is None and line.startswith("data:") and '"content":"hi"' in line.replace(" ", ""):
                first = (time.perf_counter() - t) * 1000
    if first is None:
        raise RuntimeError("no content chunk")
    return first


class TrivialProxy:
    """bench/proxy: a JS Worker that only forwards to the upstream, in the same runtime
    (wrangler dev). Through memgate minus through it is memgate's own cost as a gateway."""

    def __init__(self, upstream: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = ["wrangler", "dev", "-c", str(ROOT / "bench" / "proxy" / "wrangler.toml"), "--ip", "127.0.0.1",
               "--port", str(self.port), "--inspector-port", str(free_port()), "--var", f"UPSTREAM:{upstream}",
               "--show-interactive-dev-session=false"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.post(f"{self.url}/v1/chat/completions", json={"messages": []}, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("the trivial proxy did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=10)


def gateway_row(name, direct, trivial_proxy, via, floor):
    """Through memgate: its own cost per BENCHMARKS.md ((memgate - upstream directly) -
    memgate's trivial route, per round) and, stricter, memgate - a trivial JS proxy Worker
    (which also pays the runtime's own fetch to the upstream, ~1.5 ms)."""
    row = summary(name, via)
    row["own_p50_ms"] = round(pct([y - x - f for x, y, f in zip(direct, via, floor)], 50), 2)
    row["strict_p50_ms"] = round(pct([y - t for t, y in zip(trivial_proxy, via)], 50), 2)
    row["added_over_upstream_p50_ms"] = round(pct([y - x for x, y in zip(direct, via)], 50), 2)
    row["trivial_route_p50_ms"] = round(pct(floor, 50), 2)
    print(f"{'':<48} own p50 {row['own_p50_ms']:.2f} ms, stricter (vs the trivial proxy) {row['strict_p50_ms']:.2f} ms")
    return row


def bench_gateway(w: Worker, admin: str, key: str, n: int) -> None:
    up = UpstreamProcess()
    httpx.put(f"{w.url}/admin/config", headers={"Authorization": f"Bearer {admin}"},
              json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "model": "up"}}).raise_for_status()
    c = httpx.Client(timeout=60)
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    hdr = {"Authorization": f"Bearer {key}", "X-Memgate-Rag": "off"}
    direct = lambda: c.post(f"{up.url}/v1/chat/completions", json=body).raise_for_status()
    via = lambda: c.post(f"{w.url}/v1/chat/completions", json=body, headers=hdr).raise_for_status()
    proxy = TrivialProxy(up.url)
    trivial = lambda: c.post(f"{proxy.url}/v1/chat/completions", json=body).raise_for_status()
    floor = trivial_route(w)
    try:
        xs, ts, ys, fs = interleaved([direct, trivial, via, floor], n)
        summary("chat non-streaming: upstream directly", xs)
        summary("chat non-streaming: through a trivial JS proxy Worker", ts)
        summary("chat non-streaming: added by memgate over upstream", [y - x for x, y in zip(xs, ys)])
        row = gateway_row("chat non-streaming: memgate's own cost", xs, ts, ys, fs)
        TABLE.append(("chat, non-streaming (own = added - trivial route)", row, "<= 2"))
        sbody = {**body, "stream": True}
        marks = {"d": [], "t": [], "v": [], "f": []}
        tt_direct = lambda: marks["d"].append(ttft(c, f"{up.url}/v1/chat/completions", {}, sbody))
        tt_trivial = lambda: marks["t"].append(ttft(c, f"{proxy.url}/v1/chat/completions", {}, sbody))
        tt_via = lambda: marks["v"].append(ttft(c, f"{w.url}/v1/chat/completions", hdr, sbody))
        tt_floor = lambda: marks["f"].append(timed(floor))
        interleaved([tt_direct, tt_trivial, tt_via, tt_floor], n)
        xs, ts, ys, fs = (marks[k][-n:] for k in "dtvf")
        summary("time to first token: upstream directly", xs)
        summary("time to first token: through the trivial proxy", ts)
        summary("time to first token: added by memgate over upstream", [y - x for x, y in zip(xs, ys)])
        row = gateway_row("time to first token: memgate's own cost", xs, ts, ys, fs)
        TABLE.append(("time to first token (own = added - trivial route)", row, "<= 1"))
    finally:
        proxy.stop()
    rag_hdr = {"Authorization": f"Bearer {key}"}
    summary("chat non-streaming with RAG (retrieval on)", measure(lambda: c.post(f"{w.url}/v1/chat/completions", json=body, headers=rag_hdr).raise_for_status(), n))
    up.stop()


def bundle_size() -> None:
    out = subprocess.run(["wrangler", "deploy", "--dry-run", "--outdir", "/tmp/memgate-bench-dist"], cwd=ROOT, env=tool_env(), capture_output=True, text=True)
    m = re.search(r"Total Upload: ([\d.]+) KiB / gzip: ([\d.]+) KiB", out.stdout + out.stderr)
    if not m:
        raise SystemExit(f"wrangler deploy --dry-run printed no bundle size:\n{(out.stdout + out.stderr)[-2000:]}")
    if m:
        RESULTS["bundle_upload_kib"], RESULTS["bundle_gzip_kib"] = float(m.group(1)), float(m.group(2))
        print(f"{'bundle (wrangler deploy --dry-run)':<48} {m.group(1)} KiB, gzip {m.group(2)} KiB")
        EXTRA_ROWS.append(("bundle (deploy --dry-run), target gzip <= 1024 KiB", f"{m.group(2)} KiB gzip"))


def print_table() -> None:
    """Every figure in one table. 'own' is BENCHMARKS.md's memgate's own cost: the median
    per-round difference against memgate's trivial route measured in the same rounds (for
    the gateway, also minus the upstream called directly). 'stricter' compares with a
    refused POST (auth and body read included) or, for the gateway, a trivial JS proxy."""
    print("\n| figure | p50 ms | p99 ms | own p50 ms | stricter p50 ms | target (own) |")
    print("|---|---|---|---|---|---|")
    for name, row, target in TABLE:
        print(f"| {name} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row.get('own_p50_ms', '')} | {row.get('strict_p50_ms', '')} | {target} |")
    for name, value in EXTRA_ROWS:
        print(f"| {name} | {value} | | | | |")


EXTRA_ROWS: list = []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=250)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--load-seconds", type=float, default=20)
    ap.add_argument("--skip", default="", help="comma list of: memory,events,gateway,load,bundle")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = set(args.skip.split(","))
    t0 = time.time()
    w = Worker(name="bench").start()
    RESULTS["cold_start_spawn_to_first_answer_s"] = round(w.ready_s, 2)
    RESULTS["cold_start_first_answer_ms"] = round(w.first_answer_ms, 2)
    EXTRA_ROWS.append(("cold start: wrangler dev spawn -> first answer", f"{w.ready_s:.2f} s"))
    EXTRA_ROWS.append(("cold start: latency of that first answer", f"{w.first_answer_ms:.1f} ms"))
    try:
        admin = httpx.post(f"{w.url}/admin/init", json={"admin_password": "bench password"}, timeout=60).json()["api_key"]
        key = httpx.post(f"{w.url}/admin/keys", json={"name": "bench", "owner": "bench"}, headers={"Authorization": f"Bearer {admin}"}).json()["key"]
        print(f"memgate bench — n={args.n} per figure, loopback, wrangler dev (workerd)\n")
        if "memory" not in skip:
            bench_memory(w, key, args.n, sizes)
        if "events" not in skip:
            bench_events(w, key, min(args.n, 200))
        if "gateway" not in skip:
            gk = httpx.post(f"{w.url}/admin/keys", json={"name": "gw", "owner": "gw"}, headers={"Authorization": f"Bearer {admin}"}).json()["key"]
            bench_gateway(w, admin, gk, args.n)
    finally:
        w.stop()
    if "load" not in skip:
        from load import run_load

        report = run_load(args.load_seconds, 8)
        RESULTS["load"] = report
        print(f"{'load (mixed store/search/chat, 8 workers)':<48} {report['throughput_rps']} req/s, "
              f"{report['errors']} errors, {report['lost_writes']} lost of {report['acknowledged_writes']} acknowledged writes")
        EXTRA_ROWS.append(("load throughput (8 workers, mixed)", f"{report['throughput_rps']} req/s"))
        EXTRA_ROWS.append(("load errors / lost writes", f"{report['errors']} / {report['lost_writes']}"))
    if "bundle" not in skip:
        bundle_size()
    RESULTS["elapsed_s"] = round(time.time() - t0, 1)
    print_table()
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(RESULTS, indent=2) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
