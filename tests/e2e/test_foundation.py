"""The first vertical slice through every layer: health, status, init, memories in D1,
clean errors for unknown routes and malformed bodies."""

import sqlite3
from pathlib import Path

import httpx

from conftest import ADMIN_PASSWORD, init_worker
from harness import ROOT


def test_health_is_served_by_workerd(worker):
    r = httpx.get(f"{worker.url}/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert body["version"]
    assert body["timestamp"].endswith("Z")


def test_first_run_then_init_conflict(fresh_worker):
    url = fresh_worker.url
    assert httpx.get(f"{url}/admin/status").json()["initialized"] is False
    # Until init, the memory API explains what to do.
    r = httpx.post(f"{url}/api/memories", json={"content": "x"}, headers={"Authorization": "Bearer sk-" + "0" * 48})
    assert r.status_code == 503
    assert "init" in r.json()["detail"]
    # A bad init is refused and changes nothing.
    r = httpx.post(f"{url}/admin/init", json={"admin_password": "short"})
    assert r.status_code == 400 and "password" in r.json()["detail"]
    assert httpx.get(f"{url}/admin/status").json()["initialized"] is False

    key = init_worker(fresh_worker)
    assert key.startswith("sk-")
    status = httpx.get(f"{url}/admin/status").json()
    assert status == {"initialized": True, "version": status["version"]}
    r = httpx.post(f"{url}/admin/init", json={"admin_password": ADMIN_PASSWORD})
    assert r.status_code == 409
    # The first key is an admin key that works.
    r = httpx.get(f"{url}/admin/keys", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert len(keys) == 1 and keys[0]["owner"] == "admin"
    assert key not in r.text, "the full key must never be listed"
    assert "key_hash" not in r.text


def test_store_and_read_back_from_d1(owner_client):
    content = "The deploy key for staging rotates every 90 days."
    r = owner_client.post("/api/memories", json={"content": content, "tags": ["ops", "keys"], "memory_type": "note", "metadata": {"source": "test"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    h = body["content_hash"]
    assert len(h) == 64
    r = owner_client.get(f"/api/memories/{h}")
    assert r.status_code == 200
    m = r.json()
    assert m["content"] == content
    assert m["tags"] == ["ops", "keys"]
    assert m["memory_type"] == "note"
    assert m["metadata"] == {"source": "test"}
    assert m["created_at_iso"].endswith("Z")
    # Storing the same content (modulo case and spaces) again is reported, not duplicated.
    r = owner_client.post("/api/memories", json={"content": "  " + content.upper()})
    assert r.status_code == 200
    assert r.json()["success"] is False and r.json()["content_hash"] == h
    listed = owner_client.get("/api/memories").json()
    assert listed["total"] == 1


def test_unknown_routes_answer_clean_404s(worker):
    r = httpx.get(f"{worker.url}/api/nope")
    assert r.status_code == 404
    assert r.json() == {"detail": "no route for GET /api/nope"}
    r = httpx.get(f"{worker.url}/v1/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}


def test_method_not_allowed_lists_allowed(worker):
    r = httpx.patch(f"{worker.url}/api/memories")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"] and "POST" in r.headers["allow"]


def test_malformed_bodies_are_clean_400s(owner_client):
    cases = [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b'{"content": ""}', "application/json"),
        (b'{"content": 42}', "application/json"),
        (b'{"content": "x", "unknown_field": 1}', "application/json"),
        (b'{"content": "x", "tags": [1, 2]}', "application/json"),
        (b"content=x", "application/x-www-form-urlencoded"),
        (b'["content"]', "application/json"),
    ]
    for body, ctype in cases:
        r = owner_client.post("/api/memories", content=body, headers={"content-type": ctype})
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]
    assert owner_client.get("/api/memories").json()["total"] == 0, "nothing may be written"


def test_keys_are_required_and_checked(worker, owner_client):
    r = httpx.get(f"{worker.url}/api/memories")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].lower().startswith("bearer")
    r = httpx.get(f"{worker.url}/api/memories", headers={"Authorization": "Bearer sk-" + "f" * 48})
    assert r.status_code == 401
    # mcp-memory-service clients send X-API-Key.
    r = httpx.get(f"{worker.url}/api/memories", headers={"X-API-Key": owner_client.key})
    assert r.status_code == 200


def test_another_owner_gets_404(worker, owner_client, make_key):
    h = owner_client.post("/api/memories", json={"content": "private to the first owner"}).json()["content_hash"]
    other, _ = make_key()
    r = httpx.get(f"{worker.url}/api/memories/{h}", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404
    assert "private" not in r.text


def test_openapi_is_served(worker):
    doc = httpx.get(f"{worker.url}/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/memories/{content_hash}" in doc["paths"]


def test_schema_sql_equals_migrations():
    def dump(scripts):
        db = sqlite3.connect(":memory:")
        for s in scripts:
            db.executescript(s)
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
        return [(t, n, tb, " ".join((sql or "").split())) for t, n, tb, sql in rows]

    migrations = sorted((ROOT / "migrations").glob("*.sql"))
    assert migrations, "no migrations"
    from_migrations = dump([m.read_text() for m in migrations])
    from_schema = dump([(ROOT / "schema.sql").read_text()])
    assert from_schema == from_migrations, "schema.sql is stale: run scripts/schema.sh"
