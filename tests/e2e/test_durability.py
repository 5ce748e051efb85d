"""Nothing acknowledged is lost: the runtime is killed in the middle of a concurrent write
load and restarted on the same state; every memory answered as stored is still there."""

import threading
import time
import uuid

import httpx
import pytest

from conftest import init_worker
from harness import Worker


@pytest.fixture
def crashable():
    w = Worker(name="durable").start()
    try:
        yield w
    finally:
        w.stop()


def test_acknowledged_writes_survive_a_crash(crashable):
    admin = init_worker(crashable)
    key = httpx.post(f"{crashable.url}/admin/keys", json={"name": "d", "owner": "durable"},
                     headers={"Authorization": f"Bearer {admin}"}).json()["key"]
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def writer(n):
        c = httpx.Client(base_url=crashable.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        while not stop.is_set():
            try:
                r = c.post("/api/memories", json={"content": f"durable {n} {uuid.uuid4().hex}", "tags": ["crash"]})
            except httpx.HTTPError:
                continue  # the runtime is gone; only acknowledged writes count
            if r.status_code == 200 and r.json().get("success"):
                with lock:
                    acked.append(r.json()["content_hash"])

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(acked) < 40 and time.time() < deadline:
        time.sleep(0.05)
    crashable.kill()  # mid-load: writers are still sending
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 40, "the load never got going"
    crashable.start()
    c = httpx.Client(base_url=crashable.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    missing = [h for h in acked if c.get(f"/api/memories/{h}").status_code != 200]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged memories were lost"
    assert c.get("/api/stats").json()["unindexed"] == 0, "rows and vectors commit together"
