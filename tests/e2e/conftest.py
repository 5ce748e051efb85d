"""Fixtures: one memgate in workerd for the session (initialised once), fresh instances
for first-run tests, keys for several owners, scripted upstreams."""

from __future__ import annotations

import uuid

import httpx
import pytest

from harness import ScriptedServer, Worker

ADMIN_PASSWORD = "correct horse battery"


def init_worker(worker: Worker, **extra) -> str:
    r = httpx.post(f"{worker.url}/admin/init", json={"admin_password": ADMIN_PASSWORD, **extra}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["api_key"]


@pytest.fixture(scope="session")
def worker():
    w = Worker().start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def fresh_worker():
    w = Worker(name="fresh").start()
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="session")
def cloud_worker():
    """memgate with its production adapters (Vectorize, Workers AI) bound to stand-ins."""
    w = Worker(name="cloud", env="standins", configs=["standins/wrangler.toml"]).start()
    try:
        w.admin_key = init_worker(w)
        yield w
    finally:
        w.stop()


def key_for(worker, admin_key, owner, scopes=None):
    body = {"name": f"key for {owner}", "owner": owner}
    if scopes is not None:
        body["scopes"] = scopes
    r = httpx.post(f"{worker.url}/admin/keys", json=body, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["key"]


@pytest.fixture(scope="session")
def admin_key(worker) -> str:
    return init_worker(worker)


@pytest.fixture(scope="session")
def api(worker, admin_key) -> httpx.Client:
    with httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def make_key(worker, admin_key):
    """Creates a key for a new (or given) owner; returns (key, owner)."""

    def make(scopes=None, owner=None, **extra):
        owner = owner or f"owner-{uuid.uuid4().hex[:8]}"
        body = {"name": f"test {owner}", "owner": owner, **extra}
        if scopes is not None:
            body["scopes"] = scopes
        r = httpx.post(f"{worker.url}/admin/keys", json=body, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["key"], owner

    return make


@pytest.fixture
def owner_client(worker, make_key):
    """A client with a key of its own, fresh owner: no other test's data is visible."""
    key, owner = make_key()
    with httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        c.owner = owner
        c.key = key
        yield c


@pytest.fixture(scope="module")
def scripted():
    servers = []

    def start(handler):
        s = ScriptedServer(handler)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
