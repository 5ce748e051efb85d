"""Admin and access: sign-in, sessions and their cookie, cross-site refusal, keys with
scopes, expiry and limits, config validation."""

import concurrent.futures
import time

import httpx

from conftest import ADMIN_PASSWORD


def login(url, password=ADMIN_PASSWORD, **headers):
    return httpx.post(f"{url}/admin/login", json={"password": password}, headers=headers)


def test_sign_in_cookie_and_sign_out(worker, admin_key):
    r = login(worker.url, "wrong password")
    assert r.status_code == 401 and r.json()["detail"] == "wrong password"
    assert "set-cookie" not in r.headers
    r = login(worker.url)
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie, "plain http on loopback"
    token = r.cookies["memgate_session"]
    assert len(token) == 64 and token not in r.text
    with httpx.Client(base_url=worker.url, cookies={"memgate_session": token}) as s:
        assert s.get("/admin/keys").status_code == 200
        cfg = s.get("/admin/config")
        assert cfg.status_code == 200 and cfg.json()["public_model_name"]
        # The panel uses the memory API with its session, as owner "admin".
        assert s.get("/api/stats").status_code == 200
        assert s.post("/admin/logout").status_code == 204
        assert s.get("/admin/keys").status_code == 401, "the session is revoked server-side"
    assert httpx.get(f"{worker.url}/admin/keys").status_code == 401


def test_cross_site_requests_are_refused(worker):
    token = login(worker.url).cookies["memgate_session"]
    c = {"memgate_session": token}
    r = httpx.post(f"{worker.url}/admin/keys", json={"name": "csrf"}, cookies=c, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = httpx.post(f"{worker.url}/admin/keys", json={"name": "csrf"}, cookies=c, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = httpx.put(f"{worker.url}/admin/config", json={"system_prompt": "pwned"}, cookies=c, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = httpx.post(f"{worker.url}/admin/keys", json={"name": "same-site"}, cookies=c, headers={"Origin": worker.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201
    assert httpx.get(f"{worker.url}/admin/keys", cookies=c, headers={"Origin": "https://evil.example"}).status_code == 200, "reads are harmless"


def test_sign_in_attempts_are_rate_limited(fresh_worker):
    from conftest import init_worker
    init_worker(fresh_worker)
    codes = [login(fresh_worker.url, f"wrong {i}").status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    r = login(fresh_worker.url)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_keys_create_list_revoke(worker, admin_key):
    hdr = {"Authorization": f"Bearer {admin_key}"}
    r = httpx.post(f"{worker.url}/admin/keys", headers=hdr, json={"name": "ci bot", "owner": "ci", "scopes": ["memory:read"], "rpm_limit": 100, "daily_token_quota": 5000})
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    assert key.startswith("sk-") and created["prefix"] == key[:10] and created["scopes"] == ["memory:read"]
    listed = httpx.get(f"{worker.url}/admin/keys", headers=hdr).json()["keys"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine and key not in str(listed) and "key_hash" not in str(listed)
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    time.sleep(0.3)
    listed = httpx.get(f"{worker.url}/admin/keys", headers=hdr).json()["keys"]
    assert next(k for k in listed if k["id"] == created["id"])["last_used_at"] > created["created_at"]
    assert httpx.delete(f"{worker.url}/admin/keys/{created['id']}", headers=hdr).status_code == 204
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert httpx.delete(f"{worker.url}/admin/keys/{created['id']}", headers=hdr).status_code == 404
    for bad in [{}, {"name": ""}, {"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []}, {"name": "x", "owner": "a/b"},
                {"name": "x", "rpm_limit": 0}, {"name": "x", "expires_at": 1}, {"name": "x", "bogus": True}]:
        assert httpx.post(f"{worker.url}/admin/keys", headers=hdr, json=bad).status_code == 400, bad


def test_non_admin_keys_cannot_administer(worker, make_key):
    key, _ = make_key()
    h = {"Authorization": f"Bearer {key}"}
    for method, path in [("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/config"), ("PUT", "/admin/config"), ("GET", "/admin/usage"), ("GET", "/admin/conversations")]:
        r = httpx.request(method, f"{worker.url}{path}", headers=h, json={"name": "x"} if method != "GET" else None)
        assert r.status_code == 403, (method, path, r.status_code)


def test_scopes_and_expiry(worker, make_key):
    chat_only, _ = make_key(scopes=["chat"])
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {chat_only}"}).status_code == 403
    writer, _ = make_key(scopes=["memory:write"])
    assert httpx.post(f"{worker.url}/api/memories", json={"content": "w"}, headers={"Authorization": f"Bearer {writer}"}).status_code == 200
    soon, _ = make_key(expires_at=time.time() + 2)
    assert httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {soon}"}).status_code == 200
    time.sleep(2.5)
    r = httpx.get(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {soon}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_rpm_limit_is_exact_under_concurrency(worker, make_key):
    key, _ = make_key(rpm_limit=5)
    # Stay inside one minute window.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)

    def call(_):
        return httpx.get(f"{worker.url}/api/tags", headers={"Authorization": f"Bearer {key}"}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(12)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 5 and codes.count(429) == 7, codes
    limited = next(r for r in results if r.status_code == 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_config_is_validated_and_secrets_redacted(worker, admin_key):
    hdr = {"Authorization": f"Bearer {admin_key}"}
    before = httpx.get(f"{worker.url}/admin/config", headers=hdr).json()
    for bad, word in [
        ({"embeddings": {"provider": "openai", "base_url": "http://x/v1", "model": "text-embedding-3-large", "dimensions": 3072}}, "3072"),
        ({"embeddings": {"provider": "workers-ai", "model": "@cf/baai/bge-large-en-v1.5"}}, "768"),
        ({"rag": {"top_k": 0}}, "top_k"),
        ({"rag": {"min_score": 3}}, "min_score"),
        ({"max_conversations": 0}, "max_conversations"),
        ({"drawing": {"triggers": []}}, "triggers"),
        ({"chat": {"provider": "openai", "base_url": "ftp://x", "model": "m"}}, "base_url"),
        ({"unknown_setting": 1}, "unknown"),
    ]:
        r = httpx.put(f"{worker.url}/admin/config", headers=hdr, json=bad)
        assert r.status_code == 400 and word in r.json()["detail"], (bad, r.text)
    assert httpx.get(f"{worker.url}/admin/config", headers=hdr).json() == before, "a refused update changes nothing"
    r = httpx.put(f"{worker.url}/admin/config", headers=hdr, json={"embeddings": {"api_key": "emb-secret-123"}, "system_prompt": "Be kind."})
    assert r.status_code == 200 and "emb-secret-123" not in r.text and r.json()["embeddings"]["api_key"] == "********"
    assert r.json()["system_prompt"] == "Be kind."
    httpx.put(f"{worker.url}/admin/config", headers=hdr, json={"embeddings": {"api_key": None}, "system_prompt": before["system_prompt"]})
