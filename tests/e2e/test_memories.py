"""The memory service end to end: mcp-memory-service REST shapes, hybrid search, tags,
time, documents, events, import/export, large content in R2, isolation and bad input."""

import hashlib
import json
import threading
import time
import uuid

import httpx
import pytest

from conftest import key_for


def store(c, content, **kw):
    r = c.post("/api/memories", json={"content": content, **kw})
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True, r.text
    return r.json()["content_hash"]


class EventListener:
    """An SSE client on /api/events collecting events in a background thread."""

    def __init__(self, url, key, path="/api/events"):
        self.path = path
        self.events = []
        self.ready = threading.Event()
        self._stop = False
        self.client = httpx.Client(timeout=httpx.Timeout(60, read=60))
        self.thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the event stream did not open"

    def _run(self, url, key):
        try:
            self._read(url, key)
        except httpx.HTTPError:
            pass  # the test is over and the stream was dropped
        finally:
            self.client.close()

    def _read(self, url, key):
        with self.client.stream("GET", f"{url}{self.path}", params={"api_key": key}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if self._stop:
                    break
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:].strip())
                    self.events.append((event, data))
                    if event == "connected":
                        self.ready.set()

    def wait_for(self, event, pred=lambda d: True, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e, d in list(self.events):
                if e == event and pred(d):
                    return d
            time.sleep(0.05)
        raise AssertionError(f"no {event} event; got {self.events}")

    def close(self):
        self._stop = True


def test_list_paginates_and_filters(owner_client):
    for i in range(7):
        store(owner_client, f"pagination memory number {i}", tags=["page", f"n{i % 2}"], memory_type="note" if i < 3 else "fact")
    r = owner_client.get("/api/memories", params={"page": 1, "page_size": 5}).json()
    assert r["total"] == 7 and len(r["memories"]) == 5 and r["has_more"] is True
    r2 = owner_client.get("/api/memories", params={"page": 2, "page_size": 5}).json()
    assert len(r2["memories"]) == 2 and r2["has_more"] is False
    seen = {m["content_hash"] for m in r["memories"]} | {m["content_hash"] for m in r2["memories"]}
    assert len(seen) == 7
    assert owner_client.get("/api/memories", params={"tag": "n1"}).json()["total"] == 3
    assert owner_client.get("/api/memories", params={"memory_type": "note"}).json()["total"] == 3
    for bad in [{"page": 0}, {"page": "x"}, {"page_size": 0}, {"page_size": 101}, {"page_size": "-1"}]:
        r = owner_client.get("/api/memories", params=bad)
        assert r.status_code == 400, bad
        assert "detail" in r.json()


def test_update_and_delete(owner_client):
    h = store(owner_client, "memory to update and delete", tags=["before"])
    r = owner_client.put(f"/api/memories/{h}", json={"tags": ["after", "x"], "memory_type": "decision", "metadata": {"k": 1}})
    assert r.status_code == 200, r.text
    m = owner_client.get(f"/api/memories/{h}").json()
    assert m["tags"] == ["after", "x"] and m["memory_type"] == "decision" and m["metadata"] == {"k": 1}
    assert m["updated_at"] >= m["created_at"]
    assert owner_client.get("/api/memories", params={"tag": "before"}).json()["total"] == 0
    assert owner_client.get("/api/memories", params={"tag": "after"}).json()["total"] == 1
    for bad in [{}, {"content": "new"}, {"tags": [5]}, {"metadata": "x"}]:
        assert owner_client.put(f"/api/memories/{h}", json=bad).status_code == 400, bad
    assert owner_client.delete(f"/api/memories/{h}").status_code == 200
    assert owner_client.get(f"/api/memories/{h}").status_code == 404
    assert owner_client.delete(f"/api/memories/{h}").status_code == 404
    assert owner_client.get("/api/memories/not-a-hash").status_code == 400
    assert owner_client.get("/api/memories/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)


def test_hybrid_search_finds_by_meaning_and_keyword(owner_client):
    store(owner_client, "The production database password rotates every 30 days", tags=["security"])
    store(owner_client, "Alice prefers tea over coffee in the morning", tags=["people"])
    store(owner_client, "Our Kubernetes cluster runs in the eu-west region", tags=["infra"])
    store(owner_client, "Zebra crossings are painted white and black")
    r = owner_client.post("/api/search", json={"query": "when does the database password rotate", "n_results": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"results", "total_found", "query", "search_type", "processing_time_ms"}
    assert body["results"][0]["memory"]["content"].startswith("The production database password")
    top = body["results"][0]
    assert 0 < top["similarity_score"] <= 1 and top["relevance_reason"]
    assert len(body["results"]) <= 2
    r = owner_client.post("/api/search", json={"query": "Kubernetes"}).json()
    assert r["results"][0]["memory"]["content"].startswith("Our Kubernetes")
    assert "keyword" in r["results"][0]["relevance_reason"]
    # A threshold leaves only the matches at least that close.
    loose = owner_client.post("/api/search", json={"query": "tea coffee morning Alice"}).json()["results"]
    assert loose[0]["memory"]["content"].startswith("Alice") and len(loose) > 1
    cut = (loose[0]["similarity_score"] + loose[1]["similarity_score"]) / 2  # between the best two
    r = owner_client.post("/api/search", json={"query": "tea coffee morning Alice", "similarity_threshold": cut}).json()["results"]
    assert r and all(x["similarity_score"] >= cut for x in r) and len(r) < len(loose)
    # Tag filter.
    r = owner_client.post("/api/search", json={"query": "database password region", "tags": ["infra"]}).json()
    assert [x["memory"]["tags"] for x in r["results"]] == [["infra"]]
    # A memory stored after this isolate cached the owner's sketches is a vector candidate
    # at once.
    h = store(owner_client, "Marmalade is made from bitter Seville oranges")
    r = owner_client.post("/api/search", json={"query": "marmalade seville oranges", "n_results": 1}).json()["results"]
    assert r[0]["memory"]["content_hash"] == h and r[0]["relevance_reason"].startswith("semantic similarity"), r


def test_search_survives_query_syntax(owner_client):
    store(owner_client, "plain memory for syntax tests")
    for q in ['"unbalanced', "NEAR(a b)", "a AND OR NOT", "* ^ : -", "'; DROP TABLE memories; --", "content:x", "🙂", "x" * 2000]:
        r = owner_client.post("/api/search", json={"query": q})
        assert r.status_code == 200, (q, r.text)
    assert owner_client.get("/api/memories").json()["total"] == 1
    for bad in [{"query": ""}, {"query": "x", "n_results": 0}, {"query": "x", "n_results": 101}, {"query": 3}, {"q": "x"}, {"query": "x" * 2001}]:
        r = owner_client.post("/api/search", json=bad)
        assert r.status_code == 400, bad


def test_search_by_tag_any_and_all(owner_client):
    store(owner_client, "tagged one", tags=["red", "blue"])
    store(owner_client, "tagged two", tags=["red"])
    store(owner_client, "tagged three", tags=["green"])
    r = owner_client.post("/api/search/by-tag", json={"tags": ["red", "green"]}).json()
    assert r["total_found"] == 3 and r["search_type"] == "tag"
    r = owner_client.post("/api/search/by-tag", json={"tags": ["red", "blue"], "match_all": True}).json()
    assert [x["memory"]["content"] for x in r["results"]] == ["tagged one"]
    r = owner_client.post("/api/search/by-tag", json={"tags": "red,blue", "operation": "AND"}).json()
    assert r["total_found"] == 1
    assert owner_client.post("/api/search/by-tag", json={"tags": []}).status_code == 400
    tags = {t["tag"]: t["count"] for t in owner_client.get("/api/tags").json()["tags"]}
    assert tags == {"red": 2, "blue": 1, "green": 1}


def test_search_by_time(owner_client):
    now = time.time()
    lines = [
        {"content": "happened yesterday", "created_at": now - 86400},
        {"content": "happened three days ago", "created_at": now - 3 * 86400},
        {"content": "happened last year", "created_at": now - 400 * 86400},
    ]
    r = owner_client.post("/api/import", content="\n".join(json.dumps(x) for x in lines), headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    store(owner_client, "happened today")
    found = lambda q: {x["memory"]["content"] for x in owner_client.post("/api/search/by-time", json={"query": q}).json()["results"]}
    assert found("yesterday") == {"happened yesterday"}
    assert found("today") == {"happened today"}
    assert found("last 7 days") >= {"happened yesterday", "happened three days ago", "happened today"}
    assert "happened last year" not in found("last 7 days")
    assert found("3 days ago") == {"happened three days ago"}
    r = owner_client.post("/api/search/by-time", json={"query": "the twelfth of never"})
    assert r.status_code == 400 and "time" in r.json()["detail"]
    r = owner_client.post("/api/search", json={"query": "happened", "time_filter": "yesterday"}).json()
    assert [x["memory"]["content"] for x in r["results"]] == ["happened yesterday"]


def test_search_by_time_with_calendar_phrases_and_iso_dates(owner_client):
    import datetime as dt
    utc = dt.timezone.utc
    noon = dt.datetime.now(utc).replace(hour=12, minute=0, second=0, microsecond=0)
    monday = noon - dt.timedelta(days=noon.weekday())  # weeks start on Monday
    first_of_month = noon.replace(day=1)
    when = {
        "in last week": monday - dt.timedelta(days=5),
        "in last month": (first_of_month - dt.timedelta(days=1)).replace(day=10),
        "in last year": noon.replace(year=noon.year - 1, month=6, day=15),
        "on a leap day": dt.datetime(2024, 2, 29, 12, tzinfo=utc),
    }
    lines = [json.dumps({"content": k, "created_at": v.timestamp()}) for k, v in when.items()]
    r = owner_client.post("/api/import", content="\n".join(lines), headers={"content-type": "application/x-ndjson"})
    assert r.json()["imported"] == 4, r.text
    found = lambda q: {x["memory"]["content"] for x in owner_client.post("/api/search/by-time", json={"query": q, "n_results": 50}).json()["results"]}
    assert "in last week" in found("last week") and "in last year" not in found("last week")
    assert "in last month" in found("last month") and "in last year" not in found("last month")
    assert "in last year" in found("last year") and "on a leap day" not in found("last year")
    assert found("2024-02-29") == {"on a leap day"} and found("2024-02") == {"on a leap day"}
    assert found("2 days ago") == set()


def test_stats_and_detailed_health(owner_client, worker):
    store(owner_client, "stats memory", tags=["s"])
    s = owner_client.get("/api/stats").json()
    assert s["total_memories"] == 1 and s["unique_tags"] == 1 and s["unindexed"] == 0
    h = httpx.get(f"{worker.url}/api/health/detailed").json()
    assert h["status"] == "healthy" and h["storage"]["d1"]["ok"] is True


def test_large_memory_round_trips_through_r2(owner_client):
    big = ("large memory line " + uuid.uuid4().hex + "\n") * 40_000  # ~2 MB
    assert len(big.encode()) > 1024 * 1024
    h = store(owner_client, big, tags=["big"])
    got = owner_client.get(f"/api/memories/{h}").json()
    assert got["content"] == big
    listed = owner_client.get("/api/memories", params={"tag": "big"}).json()["memories"]
    assert listed[0]["content"] == big
    assert owner_client.delete(f"/api/memories/{h}").status_code == 200
    assert owner_client.get(f"/api/memories/{h}").status_code == 404


def test_bad_input_writes_nothing(owner_client):
    cases = [
        ({"content": "x" * (8 * 1024 * 1024 + 1)}, 413),
        ({"content": "x", "tags": [f"t{i}" for i in range(65)]}, 400),
        ({"content": "x", "tags": ["x" * 101]}, 400),
        ({"content": "x", "tags": {"a": 1}}, 400),
        ({"content": "x", "memory_type": "two words"}, 400),
        ({"content": "x", "metadata": {"k": "v" * 70_000}}, 400),
        ({"content": "x", "extra": True}, 400),
    ]
    for body, status in cases:
        r = owner_client.post("/api/memories", json=body)
        assert r.status_code == status, (str(body)[:80], r.status_code, r.text[:200])
        assert r.json()["detail"]
    r = owner_client.post("/api/memories", content=b"\xff\xfe not utf8", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert owner_client.get("/api/memories").json()["total"] == 0


def test_owners_are_isolated(worker, owner_client, make_key):
    h = store(owner_client, "owner one's secret plan about kiwis", tags=["secret"])
    other_key, _ = make_key()
    with httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {other_key}"}) as other:
        assert other.get(f"/api/memories/{h}").status_code == 404
        assert other.put(f"/api/memories/{h}", json={"tags": ["stolen"]}).status_code == 404
        assert other.delete(f"/api/memories/{h}").status_code == 404
        assert other.get("/api/memories").json()["total"] == 0
        r = other.post("/api/search", json={"query": "secret plan kiwis"}).json()
        assert r["results"] == []
        assert other.post("/api/search/by-tag", json={"tags": ["secret"]}).json()["results"] == []
        assert other.get("/api/tags").json()["tags"] == []
        assert other.get("/api/export").text == ""
        # The same content is the same hash for everyone, and still two owners' memories.
        mine = other.post("/api/memories", json={"content": "owner one's secret plan about kiwis", "tags": ["mine"]}).json()
        assert mine["success"] is True and mine["content_hash"] == h, "not reported as a duplicate of another owner's"
        assert other.delete(f"/api/memories/{h}").status_code == 200
        again = other.post("/api/import", content=json.dumps({"content": "owner one's secret plan about kiwis", "tags": ["imp"]}),
                           headers={"content-type": "application/x-ndjson"}).json()
        assert again["imported"] == 1
        assert other.delete(f"/api/memories/{h}").status_code == 200
    assert owner_client.get(f"/api/memories/{h}").json()["tags"] == ["secret"]
    assert owner_client.post("/api/search", json={"query": "secret plan kiwis"}).json()["results"][0]["memory"]["content_hash"] == h


def test_scopes_are_enforced(worker, make_key):
    ro, _ = make_key(scopes=["memory:read"])
    chat_only, _ = make_key(scopes=["chat"])
    r = httpx.post(f"{worker.url}/api/memories", json={"content": "x"}, headers={"Authorization": f"Bearer {ro}"})
    assert r.status_code == 403 and "memory:write" in r.json()["detail"]
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {ro}"}).status_code == 200
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {chat_only}"}).status_code == 403


def test_events_reach_the_owner_only(worker, owner_client, make_key):
    listener = EventListener(worker.url, owner_client.key)
    second = EventListener(worker.url, owner_client.key, path="/events")  # the alias, a second client
    other_key, _ = make_key()
    other = EventListener(worker.url, other_key)
    try:
        h = store(owner_client, "an event-worthy memory", tags=["live"])
        for client in (listener, second):
            d = client.wait_for("memory_stored", lambda d: d.get("content_hash") == h)
            assert d["content_preview"].startswith("an event-worthy") and d["tags"] == ["live"]
        owner_client.post("/api/search", json={"query": "event-worthy"})
        listener.wait_for("search_completed")
        owner_client.delete(f"/api/memories/{h}")
        for client in (listener, second):
            client.wait_for("memory_deleted", lambda d: d.get("content_hash") == h)
        # An idle stream is kept alive by heartbeats (every 15 s).
        beat = listener.wait_for("heartbeat", timeout=25)
        assert beat["type"] == "heartbeat" and beat["timestamp"]
        assert not [e for e, _ in other.events if e not in ("connected", "heartbeat")], other.events
    finally:
        listener.close()
        second.close()
        other.close()
    r = httpx.get(f"{worker.url}/api/events")
    assert r.status_code == 401


def test_documents_are_chunked_and_searchable(owner_client):
    text = "\n\n".join(
        f"Section {i}. " + " ".join(f"filler{i}x{j}" for j in range(120)) for i in range(8)
    ) + "\n\nThe secret ingredient of the house curry is smoked paprika."
    r = owner_client.post("/api/documents", files={"file": ("recipes.md", text.encode(), "text/markdown")}, data={"tags": "cooking, recipes"})
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    assert doc["chunks"] > 1 and doc["format"] == "markdown" and doc["filename"] == "recipes.md"
    hits = owner_client.post("/api/search", json={"query": "secret ingredient curry", "n_results": 3}).json()["results"]
    assert "smoked paprika" in hits[0]["memory"]["content"]
    assert hits[0]["memory"]["memory_type"] == "document"
    assert hits[0]["memory"]["metadata"]["document_id"] == doc["id"]
    assert "cooking" in hits[0]["memory"]["tags"]
    docs = owner_client.get("/api/documents").json()["documents"]
    assert [d["id"] for d in docs] == [doc["id"]]
    # HTML, CSV, JSON and PDF are extracted as text.
    html = b"<html><head><title>Pets</title><script>var x='nope';</script></head><body><p>Our parrot is called Rio &amp; sings.</p></body></html>"
    assert owner_client.post("/api/documents", files={"file": ("p.html", html, "text/html")}).status_code == 201
    csv_ = b"name,animal\nRex,dog\n\"Tom, Jr\",cat\n"
    assert owner_client.post("/api/documents", files={"file": ("pets.csv", csv_, "text/csv")}).status_code == 201
    pdf = make_pdf("Quarterly revenue grew by seventeen percent")
    assert owner_client.post("/api/documents", files={"file": ("report.pdf", pdf, "application/pdf")}).status_code == 201
    assert owner_client.post("/api/documents", json={"title": "notes", "text": "The wifi password is hunter2"}).status_code == 201
    for q, want in [("parrot name", "Rio"), ("Tom cat", "Tom, Jr"), ("quarterly revenue", "seventeen percent"), ("wifi password", "hunter2")]:
        res = owner_client.post("/api/search", json={"query": q, "n_results": 3}).json()["results"]
        assert any(want in x["memory"]["content"] for x in res), (q, res)
    script_hits = owner_client.post("/api/search", json={"query": "var x nope"}).json()["results"]
    assert not any("nope" in x["memory"]["content"] for x in script_hits), "script text must not be indexed"
    # Bad uploads.
    assert owner_client.post("/api/documents", files={"file": ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")}).status_code == 400
    assert owner_client.post("/api/documents", files={"other": ("a.txt", b"x", "text/plain")}).status_code == 400
    assert owner_client.post("/api/documents", json={"title": "", "text": "x"}).status_code == 400
    # Deleting removes the chunks.
    assert owner_client.delete(f"/api/documents/{doc['id']}").status_code == 200
    res = owner_client.post("/api/search", json={"query": "secret ingredient curry paprika"}).json()["results"]
    assert not any("paprika" in x["memory"]["content"] for x in res)
    assert owner_client.delete(f"/api/documents/{doc['id']}").status_code == 404


def make_pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer << /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_export_import_round_trip(worker, owner_client, make_key):
    store(owner_client, "export me one", tags=["a", "b"], memory_type="note", metadata={"n": 1, "nested": {"x": [1, 2]}})
    store(owner_client, "export me two ünïcödé 🙂")
    exported = owner_client.get("/api/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(l) for l in exported.text.splitlines()]
    assert len(lines) == 2
    key, _ = make_key()
    with httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {key}"}) as fresh:
        r = fresh.post("/api/import", content=exported.text, headers={"content-type": "application/x-ndjson"}).json()
        assert r["imported"] == 2 and r["failed"] == 0
        again = fresh.post("/api/import", content=exported.text, headers={"content-type": "application/x-ndjson"}).json()
        assert again["imported"] == 0 and again["skipped_duplicates"] == 2
        round_trip = [json.loads(l) for l in fresh.get("/api/export").text.splitlines()]
        assert sorted(round_trip, key=lambda m: m["content_hash"]) == sorted(lines, key=lambda m: m["content_hash"])
        # mcp-memory-service's JSON export. It hashes the metadata with the content when
        # there is any; its hashes are kept, so its clients' references still resolve.
        meta = {"source": "claude-desktop", "hostname": "laptop"}
        theirs = hashlib.sha256(("imported from mms" + json.dumps(meta, sort_keys=True)).encode()).hexdigest()
        plain = hashlib.sha256(b"plain mms memory").hexdigest()
        mms = {"export_metadata": {"source": "mcp-memory-service"}, "memories": [
            {"content": "Imported from MMS", "content_hash": theirs, "tags": ["mms"], "memory_type": "note", "metadata": meta, "created_at": 1700000000.0, "updated_at": 1700000001.0, "created_at_iso": "2023-11-14T22:13:20Z"},
            {"content": "plain mms memory", "content_hash": plain, "tags": "a,b", "metadata": {}, "created_at": 1700000100.0},
            {"content": "a broken hash", "content_hash": "not-a-hash"}]}
        r = fresh.post("/api/import", json=mms).json()
        assert (r["imported"], r["failed"]) == (2, 1), r
        assert "content_hash" in r["errors"][0]["error"] and r["errors"][0]["line"] == 3
        m = fresh.get(f"/api/memories/{theirs}").json()
        assert m["created_at"] == 1700000000.0 and m["tags"] == ["mms"] and m["metadata"] == meta
        assert fresh.get(f"/api/memories/{plain}").json()["tags"] == ["a", "b"]
        assert fresh.post("/api/import", json=mms).json()["skipped_duplicates"] == 2
        found = fresh.post("/api/search", json={"query": "imported from mms"}).json()["results"]
        assert found and found[0]["memory"]["content_hash"] == theirs
        bad = fresh.post("/api/import", content=b"not json at all", headers={"content-type": "application/x-ndjson"}).json()
        assert bad["failed"] == 1 and bad["imported"] == 0
        assert fresh.post("/api/import", content=b"").status_code == 400


def test_vectorize_failure_is_repaired_by_the_scheduler(cloud_worker):
    """Production adapters (Vectorize, Workers AI) through stand-ins at the binding boundary:
    a failed vector write keeps the memory, flags it, and the cron handler re-indexes it."""
    key = key_for(cloud_worker, cloud_worker.admin_key, f"flaky-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        h = store(c, "the lighthouse keeper feeds seven cats")
        assert c.get(f"/api/memories/{h}").status_code == 200, "stored despite the failed vector write"
        assert c.get("/api/stats").json()["unindexed"] == 1
        time.sleep(5.5)
        cloud_worker.scheduled()
        assert c.get("/api/stats").json()["unindexed"] == 0
        res = c.post("/api/search", json={"query": "lighthouse keeper cats"}).json()["results"]
        assert res[0]["memory"]["content_hash"] == h
        assert res[0]["similarity_score"] > 0.5
    # A healthy owner is indexed at once through Vectorize + Workers AI embeddings.
    key = key_for(cloud_worker, cloud_worker.admin_key, "steady")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        store(c, "bicycles have two wheels")
        assert c.get("/api/stats").json()["unindexed"] == 0
        assert c.get("/api/stats").json()["backend"] == "d1+vectorize"
        res = c.post("/api/search", json={"query": "two wheels bicycles"}).json()["results"]
        assert res and res[0]["memory"]["content"] == "bicycles have two wheels"


def test_an_import_is_indexed_in_batches_through_the_production_adapters(cloud_worker):
    """250 memories imported through Workers AI and Vectorize stand-ins (which refuse more
    than 100 texts per embedding call): every one indexed, found by meaning, with no repair."""
    key = key_for(cloud_worker, cloud_worker.admin_key, f"importer-{uuid.uuid4().hex[:6]}")
    words = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "glacier", "harbor", "island", "jungle"]
    lines = [json.dumps({"content": f"field note {i}: the {words[i % 10]} survey logged sample {i * 7}", "tags": ["survey"], "created_at": 1700000000.0 + i})
             for i in range(250)]
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        r = c.post("/api/import", content="\n".join(lines), headers={"content-type": "application/x-ndjson"}).json()
        assert (r["imported"], r["failed"]) == (250, 0), r
        assert c.get("/api/stats").json()["unindexed"] == 0, "every batch reached the index"
        res = c.post("/api/search", json={"query": "glacier survey sample 1722", "n_results": 3}).json()["results"]
        assert res[0]["memory"]["content"] == "field note 246: the glacier survey logged sample 1722"
        assert res[0]["relevance_reason"].startswith("semantic similarity"), res[0]


def test_a_document_ingest_cut_short_is_undone_by_the_scheduler(worker, owner_client):
    """A crash after the chunks' batch and before the document's row leaves chunks without a
    document, and its file held in the cleanup queue; the scheduled handler removes them all
    once the ingest is surely over."""
    c = owner_client
    store(c, "an unrelated memory that stays")
    r = c.post("/api/documents", json={"title": "half written", "text": "The zeppelin hangar has a red door.\n\nIt opens at dawn."})
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    before = c.get("/api/stats").json()
    assert before["total_memories"] == 1 + doc["chunks"] and before["pending_cleanup"] == 0
    assert c.post("/api/search", json={"query": "zeppelin hangar"}).json()["results"]
    # The state a crash would leave: the document's row never landed, its file is still
    # held; ten minutes pass.
    blob = f"documents/{c.owner}/{doc['id']}"
    worker.d1(f"DELETE FROM documents WHERE id = '{doc['id']}'; "
              f"UPDATE memories SET created_at = created_at - 900 WHERE document_id = '{doc['id']}'; "
              f"INSERT INTO cleanup_queue (owner, kind, ref, created_at) VALUES ('{c.owner}', 'blob', '{blob}', 0)")
    worker.scheduled()
    after = c.get("/api/stats").json()
    assert after["total_memories"] == 1, "exactly the orphan chunks are gone"
    assert after["pending_cleanup"] == doc["chunks"], "the file is removed; the chunks' vectors are queued"
    time.sleep(5.5)
    worker.scheduled()
    assert c.get("/api/stats").json()["pending_cleanup"] == 0
    found = c.post("/api/search", json={"query": "zeppelin hangar"}).json()["results"]
    assert [x["memory"]["content"] for x in found] == ["an unrelated memory that stays"]
