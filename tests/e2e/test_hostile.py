"""Hostile input against every API surface: huge and deeply nested bodies, invalid UTF-8,
control characters, header injection, path traversal, SQL/FTS5 syntax, wrong JSON types,
wrong methods and content types, and owner isolation. Every refusal must be a clean 4xx in
the error shape of its surface, leak nothing internal, and write nothing; no response body
may ever carry an API key, a key hash or the admin password.

One memgate of its own for the module (its chat upstream is a scripted loopback server), so
that changing its configuration cannot disturb other test files."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import uuid

import httpx
import pytest

from conftest import ADMIN_PASSWORD, init_worker
from harness import ScriptedServer, Worker

# Text that must never reach a client: panics, stack traces, storage and runtime internals.
INTERNAL_MARKERS = (
    "panicked", "runtimeerror", "d1_error", "sqlite", "wasm", "at src/", "src/http/", "src/core/",
    "src/platform/", "traceback", "backtrace", "unwrap()", "rusterror", "jsvalue",
)
UPSTREAM_SECRET = "upstream-secret-hostile-7f3a"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
MCP_HEADERS = {"accept": "application/json, text/event-stream"}


def upstream_handler(req):
    """An OpenAI-compatible upstream: a fixed chat answer and a 1x1 PNG for images."""
    if req["path"].endswith("/images/generations"):
        return 200, None, {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}
    return 200, None, {
        "id": "up-1", "object": "chat.completion", "created": 1, "model": "up",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


class Env:
    """The module's memgate, its admin key, every key minted, and every response body seen."""

    def __init__(self, worker: Worker, admin_key: str, upstream: ScriptedServer):
        self.worker = worker
        self.url = worker.url
        self.admin_key = admin_key
        self.upstream = upstream
        self.keys: list[str] = [admin_key]
        self.bodies: list[tuple[str, str]] = []
        self.clients: list[httpx.Client] = []
        self.openapi = httpx.get(f"{self.url}/openapi.json", timeout=30).json()
        self.admin = self.client(admin_key)

    def record(self, label: str, body: bytes | str) -> None:
        text = body if isinstance(body, str) else body.decode("utf-8", errors="replace")
        self.bodies.append((label, text))

    def client(self, key: str | None) -> httpx.Client:
        def hook(r: httpx.Response):
            r.read()
            self.record(f"{r.request.method} {r.request.url.path} -> {r.status_code}", r.content)

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=120, event_hooks={"response": [hook]})
        self.clients.append(c)
        return c

    def mint(self, scopes=None, **extra) -> tuple[str, str]:
        """A key for a new owner. The creation answer (which holds the key) is not recorded."""
        owner = f"hostile-{uuid.uuid4().hex[:8]}"
        body = {"name": f"key {owner}", "owner": owner, **extra}
        if scopes is not None:
            body["scopes"] = scopes
        r = httpx.post(f"{self.url}/admin/keys", json=body, headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=30)
        assert r.status_code == 201, r.text
        key = r.json()["key"]
        self.keys.append(key)
        return key, owner

    def owner(self, scopes=None, **extra) -> httpx.Client:
        key, owner = self.mint(scopes, **extra)
        c = self.client(key)
        c.key, c.owner = key, owner
        return c

    def raw(self, method: str, path: str, headers=(), body: bytes = b"", key: str | None = None):
        """One HTTP/1.1 request written byte for byte (no client-side validation or path
        normalisation). Returns (status, lower-cased headers as a list of pairs, body)."""
        host, port = self.url.split("//")[1].split(":")
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n".encode()
        if key:
            head += b"Authorization: Bearer " + key.encode() + b"\r\n"
        for k, v in headers:
            head += k + b": " + v + b"\r\n"
        if body or method in ("POST", "PUT"):
            head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(head + b"\r\n" + body)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        if ("transfer-encoding", "chunked") in hdrs:
            rest = dechunk(rest)
        self.record(f"raw {method} {path[:60]} -> {status}", rest)
        return status, hdrs, rest


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


@pytest.fixture(scope="module")
def env():
    w = Worker(name="hostile").start()
    up = ScriptedServer(upstream_handler)
    e = None
    try:
        admin_key = init_worker(w)
        r = httpx.put(f"{w.url}/admin/config", headers={"Authorization": f"Bearer {admin_key}"}, timeout=30,
                      json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "api_key": UPSTREAM_SECRET, "model": "up"}})
        assert r.status_code == 200, r.text
        e = Env(w, admin_key, up)
        yield e
    finally:
        if e:
            for c in e.clients:
                c.close()
        up.stop()
        w.stop()


# ---------------------------------------------------------------------------------------
# Shapes and invariants


def surface(path: str) -> str:
    if path == "/v1" or path.startswith("/v1/") or path == "/analyze_error":
        return "openai"
    if path == "/mcp" or path.startswith("/mcp/"):
        return "mcp"
    return "rest"


def assert_no_internals(text: str, label: str = "") -> None:
    low = text.lower()
    for m in INTERNAL_MARKERS:
        assert m not in low, f"{label}: the body reveals internals ({m!r}): {text[:400]}"


def assert_error_shape(path: str, status: int, headers, body: bytes, label: str = "") -> None:
    label = label or path
    ctype = (headers if isinstance(headers, httpx.Headers) else dict(headers)).get("content-type", "")
    assert ctype.startswith("application/json"), f"{label}: error content-type {ctype!r}: {body[:200]!r}"
    text = body.decode()
    assert_no_internals(text, label)
    doc = json.loads(text)
    kind = surface(path)
    if kind == "rest":
        assert isinstance(doc, dict) and set(doc) == {"detail"}, f"{label}: not {{'detail': str}}: {text[:300]}"
        assert isinstance(doc["detail"], str) and doc["detail"].strip(), f"{label}: empty detail"
    elif kind == "openai":
        assert isinstance(doc, dict) and set(doc) == {"error"}, f"{label}: not an OpenAI error: {text[:300]}"
        err = doc["error"]
        assert set(err) == {"message", "type", "param", "code"}, f"{label}: OpenAI error keys {sorted(err)}"
        assert isinstance(err["message"], str) and err["message"].strip(), label
        assert isinstance(err["type"], str) and err["type"], label
        assert err["param"] is None or isinstance(err["param"], str), label
        assert err["code"] is None or isinstance(err["code"], str), label
    else:
        assert isinstance(doc, dict) and doc.get("jsonrpc") == "2.0" and "id" in doc, f"{label}: not JSON-RPC: {text[:300]}"
        assert "result" not in doc, f"{label}: an error with a result: {text[:300]}"
        err = doc["error"]
        assert isinstance(err["code"], int) and isinstance(err["message"], str) and err["message"], label


def refused(r: httpx.Response, *statuses: int) -> httpx.Response:
    """`r` is a clean refusal: one of `statuses` (4xx), right shape, no internals."""
    path = r.request.url.path
    label = f"{r.request.method} {path}"
    assert r.status_code in statuses, f"{label}: expected {statuses}, got {r.status_code}: {r.text[:300]}"
    assert 400 <= r.status_code < 500
    assert_error_shape(path, r.status_code, r.headers, r.content, label)
    if r.status_code == 401:
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), label
    return r


def ok_json(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    assert_no_internals(r.text, r.request.url.path)
    return r.json()


def snapshot(c: httpx.Client):
    """Everything an owner could have written, to compare before and after hostile input."""
    stats = ok_json(c.get("/api/stats"))
    listed = ok_json(c.get("/api/memories", params={"page_size": 100}))
    docs = ok_json(c.get("/api/documents"))
    tags = ok_json(c.get("/api/tags"))
    return {
        "total": stats["total_memories"], "unique_tags": stats["unique_tags"], "documents": stats["documents"],
        "listed": listed["total"],
        "memories": sorted((m["content_hash"], tuple(m["tags"]), m["memory_type"], json.dumps(m["metadata"], sort_keys=True), m["updated_at"])
                           for m in listed["memories"]),
        "docs": sorted(d["id"] for d in docs["documents"]), "tags": sorted((t["tag"], t["count"]) for t in tags["tags"]),
    }


def admin_state(env: Env):
    keys = ok_json(env.admin.get("/admin/keys"))["keys"]
    config = ok_json(env.admin.get("/admin/config"))
    convs = ok_json(env.admin.get("/admin/conversations"))["conversations"]
    return sorted(k["id"] for k in keys), config, sorted((c["owner"], c["id"], c["message_count"]) for c in convs)


def store(c: httpx.Client, content: str, **kw) -> str:
    body = ok_json(c.post("/api/memories", json={"content": content, **kw}))
    assert body["success"] is True, body
    return body["content_hash"]


def mcp_call(c: httpx.Client, tool: str, arguments, rid=1) -> httpx.Response:
    return c.post("/mcp", headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                                      "params": {"name": tool, "arguments": arguments}})


def mcp_tool_error(r: httpx.Response) -> str:
    """The text of an `isError` tool result (a clean refusal inside JSON-RPC)."""
    body = ok_json(r)
    assert body.get("jsonrpc") == "2.0" and "error" not in body, body
    result = body["result"]
    assert result["isError"] is True, f"expected an isError tool result: {body}"
    return " ".join(part["text"] for part in result["content"])


def mcp_tool_ok(r: httpx.Response) -> dict:
    body = ok_json(r)
    assert "error" not in body and body["result"].get("isError") is not True, body
    return json.loads(body["result"]["content"][0]["text"])


def documented_statuses(env: Env, method: str, template: str) -> set[str]:
    return set(env.openapi["paths"][template][method.lower()]["responses"])


def big_json(prefix: bytes, size: int, suffix: bytes = b'"}') -> bytes:
    return prefix + b"x" * size + suffix


# ---------------------------------------------------------------------------------------
# Size


def test_huge_bodies_are_413_and_write_nothing(env):
    c = env.owner()
    h = store(c, "a memory that hostile updates must not touch", tags=["keep"])
    before, admin_before = snapshot(c), admin_state(env)
    mb = 1024 * 1024
    json_ct = {"content-type": "application/json"}
    cases = [
        ("POST", "/api/memories", big_json(b'{"content":"', 11 * mb), json_ct),
        ("POST", "/api/memories", big_json(b'{"content":"x","metadata":{"k":"', 11 * mb, b'"}}'), json_ct),
        ("PUT", f"/api/memories/{h}", big_json(b'{"metadata":{"k":"', 300 * 1024, b'"}}'), json_ct),
        ("POST", "/api/search", big_json(b'{"query":"', 100 * 1024), json_ct),
        ("POST", "/api/documents", big_json(b'{"title":"t","text":"', 11 * mb), json_ct),
        ("POST", "/api/import", big_json(b'{"content":"', 33 * mb, b'"}\n'), {"content-type": "application/x-ndjson"}),
        ("POST", "/v1/chat/completions", big_json(b'{"model":"m","messages":[{"role":"user","content":"', 5 * mb, b'"}]}'), json_ct),
        ("POST", "/v1/embeddings", big_json(b'{"model":"m","input":"', 11 * mb), json_ct),
        ("POST", "/v1/images/generations", big_json(b'{"prompt":"', 5 * mb), json_ct),
        ("POST", "/analyze_error", big_json(b'{"machine_id":"m1","error_context":"', 5 * mb), json_ct),
        ("POST", "/mcp", big_json(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_store","arguments":{"content":"', 11 * mb, b'"}}}'), {**json_ct, **MCP_HEADERS}),
    ]
    for method, path, body, headers in cases:
        r = refused(c.request(method, path, content=body, headers=headers), 413)
        if surface(path) == "openai":
            assert r.json()["error"]["code"] == "payload_too_large", r.text
    # Without Content-Length (chunked), the limit holds once the body is read.
    def chunks(prefix, n):
        yield prefix
        for _ in range(n):
            yield b"x" * mb
        yield b'"}'
    refused(c.post("/api/memories", content=chunks(b'{"content":"', 11), headers=json_ct), 413)
    refused(c.post("/v1/chat/completions", content=chunks(b'{"model":"m","messages":[{"role":"user","content":"', 5), headers=json_ct), 413)
    # An 11 MB file upload.
    refused(c.post("/api/documents", files={"file": ("big.txt", b"word " * (11 * mb // 5), "text/plain")}), 413)
    # A 1 MB tag list and 1 MB of headers-worth of JSON keys are refused too.
    refused(c.post("/api/memories", json={"content": "x", "tags": ["t"] * 200_000}), 400, 413)
    assert snapshot(c) == before, "a refused oversized request changed the owner's data"
    assert admin_state(env) == admin_before


def test_refusals_use_documented_statuses(env):
    """Every refusal the API gives for these inputs is listed for its operation in
    /openapi.json (clients generated from the document rely on it)."""
    c = env.owner()
    h = store(c, "documented status probe")
    limited = env.owner(rpm_limit=1)
    mb = 1024 * 1024
    ct = {"content-type": "application/json"}
    probes = [
        ("PUT", "/api/memories/{content_hash}", lambda: c.put(f"/api/memories/{h}", content=big_json(b'{"metadata":{"k":"', 300 * 1024, b'"}}'), headers=ct)),
        ("POST", "/api/search", lambda: c.post("/api/search", content=big_json(b'{"query":"', 100 * 1024), headers=ct)),
        ("POST", "/api/search/by-tag", lambda: c.post("/api/search/by-tag", content=big_json(b'{"tags":"', 100 * 1024), headers=ct)),
        ("POST", "/api/search/by-time", lambda: c.post("/api/search/by-time", content=big_json(b'{"query":"', 100 * 1024), headers=ct)),
        ("POST", "/mcp", lambda: c.post("/mcp", content=big_json(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"', 11 * mb, b'"}}'), headers={**ct, **MCP_HEADERS})),
        ("POST", "/admin/keys", lambda: env.admin.post("/admin/keys", content=big_json(b'{"name":"', 100 * 1024), headers=ct)),
        ("PUT", "/admin/config", lambda: env.admin.put("/admin/config", content=big_json(b'{"system_prompt":"', 100 * 1024), headers=ct)),
        ("GET", "/api/memories", lambda: [limited.get("/api/memories") for _ in range(2)][-1]),
        ("POST", "/api/search", lambda: limited.post("/api/search", json={"query": "x"})),
        ("GET", "/api/stats", lambda: limited.get("/api/stats")),
    ]
    undocumented = []
    for method, template, send in probes:
        r = send()
        assert 400 <= r.status_code < 500, (method, template, r.status_code, r.text[:200])
        assert_error_shape(r.request.url.path, r.status_code, r.headers, r.content)
        if str(r.status_code) not in documented_statuses(env, method, template):
            undocumented.append(f"{method} {template} answers {r.status_code} ({r.json()}) but /openapi.json lists only "
                                f"{sorted(documented_statuses(env, method, template))}")
    assert not undocumented, "undocumented statuses:\n  " + "\n  ".join(undocumented)


# ---------------------------------------------------------------------------------------
# Structure and encoding


def test_deeply_nested_json_is_refused(env):
    c = env.owner()
    h = store(c, "nesting target")
    before, admin_before = snapshot(c), admin_state(env)
    d = 10_000
    arr = "[" * d + "]" * d
    obj = '{"a":' * d + "1" + "}" * d
    ct = {"content-type": "application/json"}
    cases = [
        ("POST", "/api/memories", arr), ("POST", "/api/memories", obj),
        ("POST", "/api/memories", '{"content":"x","metadata":' + obj + "}"),
        ("POST", "/api/memories", '{"content":"x","metadata":{"a":' + arr + "}}"),
        ("POST", "/api/memories", '{"content":"x","tags":' + arr + "}"),
        ("PUT", f"/api/memories/{h}", '{"metadata":' + obj + "}"),
        ("POST", "/api/search", arr), ("POST", "/api/search", '{"query":"x","tags":' + arr + "}"),
        ("POST", "/api/search/by-tag", '{"tags":' + arr + "}"),
        ("POST", "/api/search/by-time", obj),
        ("POST", "/api/documents", '{"title":"t","text":"x","tags":' + arr + "}"),
        ("POST", "/v1/chat/completions", arr), ("POST", "/v1/chat/completions", '{"model":"m","messages":' + arr + "}"),
        ("POST", "/v1/embeddings", '{"model":"m","input":' + arr + "}"),
        ("POST", "/v1/images/generations", obj),
        ("POST", "/analyze_error", '{"machine_id":"m","error_context":' + arr + "}"),  # its limit is 36 KB
        ("POST", "/mcp", arr),
        ("POST", "/mcp", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_store","arguments":{"content":"x","metadata":' + obj + "}}}"),
    ]
    for method, path, body in cases:
        refused(c.request(method, path, content=body, headers={**ct, **MCP_HEADERS}), 400)
    for path, body in [("/admin/config", obj), ("/admin/keys", '{"name":"x","scopes":' + arr + "}")]:
        refused(env.admin.request("PUT" if path == "/admin/config" else "POST", path, content=body, headers=ct), 400)
    # An import line that nests too deeply is reported as failed (or the import refused).
    r = c.post("/api/import", content='{"content":"x","metadata":' + obj + "}\n", headers={"content-type": "application/x-ndjson"})
    if r.status_code == 200:
        assert r.json()["imported"] == 0 and r.json()["failed"] == 1, r.text
        assert_no_internals(r.text)
    else:
        refused(r, 400)
    assert snapshot(c) == before
    assert admin_state(env) == admin_before


def test_moderately_nested_metadata_round_trips(env):
    c = env.owner()
    nested = {"leaf": [1, "two", None]}
    for i in range(80):  # ~100 levels: well inside the parser's limit with the envelope
        nested = {f"k{i}": nested} if i % 4 else {"l": [nested]}
    h = store(c, "nested metadata survives", metadata=nested)
    assert ok_json(c.get(f"/api/memories/{h}"))["metadata"] == nested
    exported = [json.loads(line) for line in c.get("/api/export").text.splitlines()]
    assert exported[0]["metadata"] == nested
    got = mcp_tool_ok(mcp_call(c, "memory_list", {"page_size": 5}))
    assert got["memories"][0]["metadata"] == nested


def test_invalid_utf8_is_refused(env):
    c = env.owner()
    h = store(c, "utf8 target")
    before = snapshot(c)
    bad_strings = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"ok \xe2\x82", b"\\ud800", b"\\udfff tail", b"\x80"]
    ct = {"content-type": "application/json"}
    for s in bad_strings:
        bodies = [
            ("POST", "/api/memories", b'{"content":"' + s + b'"}'),
            ("POST", "/api/memories", b'{"content":"fine","tags":["' + s + b'"]}'),
            ("PUT", f"/api/memories/{h}", b'{"tags":["' + s + b'"]}'),
            ("POST", "/api/search", b'{"query":"' + s + b'"}'),
            ("POST", "/api/documents", b'{"title":"t","text":"' + s + b'"}'),
            ("POST", "/v1/chat/completions", b'{"model":"m","messages":[{"role":"user","content":"' + s + b'"}]}'),
            ("POST", "/v1/embeddings", b'{"model":"m","input":"' + s + b'"}'),
            ("POST", "/mcp", b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_store","arguments":{"content":"' + s + b'"}}}'),
        ]
        for method, path, body in bodies:
            refused(c.request(method, path, content=body, headers={**ct, **MCP_HEADERS}), 400)
        r = c.post("/api/import", content=b'{"content":"' + s + b'"}\n', headers={"content-type": "application/x-ndjson"})
        if r.status_code == 200:  # a line that is not valid JSON text is reported, not stored
            assert r.json()["imported"] == 0 and r.json()["failed"] == 1, r.text
        else:
            refused(r, 400)
    # Raw invalid bytes in a multipart text file: refused, or stored as valid UTF-8 text.
    r = c.post("/api/documents", files={"file": ("bad.txt", b"caf\xe9 \xff\xfe\x00 r\xc3sum\xc3", "text/plain")})
    if r.status_code == 201:
        doc_id = r.json()["document"]["id"]
        assert ok_json(c.delete(f"/api/documents/{doc_id}"))["success"] is True
    else:
        refused(r, 400)
    # Invalid UTF-8 percent-encoded in paths and query strings.
    for path in ["/api/memories/%FF%FE", "/api/documents/%C0%AF", f"/api/memories/{h}%FF", "/images/%ED%A0%80"]:
        for method in ("GET", "DELETE"):
            if path.startswith("/images/") and method == "DELETE":
                continue
            r = c.request(method, path)
            assert r.status_code in (400, 404, 405), (method, path, r.status_code)
            assert_error_shape(r.request.url.path, r.status_code, r.headers, r.content, f"{method} {path}")
    for query in ["tag=%FF", "memory_type=%C0%AF", "page=%FF", "tag=ok&tag=%ED%A0%80"]:
        r = c.get(f"/api/memories?{query}")
        assert r.status_code in (200, 400), (query, r.status_code)
        if r.status_code == 200:
            assert r.json()["memories"] == [], "nothing matches an undecodable filter"
        else:
            refused(r, 400)
    assert snapshot(c) == before


def test_control_characters_in_tags_are_refused_and_in_content_round_trip(env):
    c = env.owner()
    h = store(c, "control char target", tags=["clean"])
    before = snapshot(c)
    bad_tags = ["nul\x00tag", "esc\x1b[31m", "line\nbreak", "cr\rlf", "de\x7fl", "n\u0085el", "bell\x07"]
    for tag in bad_tags:
        refused(c.post("/api/memories", json={"content": f"tagged {tag!r}", "tags": [tag]}), 400)
        refused(c.post("/api/memories", json={"content": f"csv tagged {tag!r}", "tags": f"ok,{tag}"}), 400)
        refused(c.put(f"/api/memories/{h}", json={"tags": [tag]}), 400)
        refused(c.post("/api/search/by-tag", json={"tags": [tag]}), 400)
        refused(c.post("/api/search", json={"query": "x", "tags": [tag]}), 400)
        refused(c.post("/api/documents", json={"title": "t", "text": "doc text", "tags": [tag]}), 400)
        refused(c.post("/api/documents", files={"file": ("a.txt", b"doc text", "text/plain")}, data={"tags": f"ok,{tag}"}), 400)
        assert "tag" in mcp_tool_error(mcp_call(c, "memory_store", {"content": f"mcp tagged {tag!r}", "tags": [tag]}))
    for mtype in ["no\x00te", "tab\there", "new\nline"]:
        refused(c.post("/api/memories", json={"content": "typed", "memory_type": mtype}), 400)
        refused(c.put(f"/api/memories/{h}", json={"memory_type": mtype}), 400)
    assert snapshot(c) == before
    # Content is data: NUL and control characters are kept exactly, and searchable.
    content = "ctl\x00nul \x01\x02\x1b[0m \x7f bell\x07 \u202e rtl\r\nend"
    h2 = store(c, content)
    assert h2 == hashlib.sha256(content.strip().lower().encode()).hexdigest()
    assert ok_json(c.get(f"/api/memories/{h2}"))["content"] == content
    found = ok_json(c.post("/api/search", json={"query": "ctl\x00nul bell\x07 rtl"}))
    assert h2 in [x["memory"]["content_hash"] for x in found["results"]]
    exported = {m["content_hash"]: m for m in map(json.loads, c.get("/api/export").text.splitlines())}
    assert exported[h2]["content"] == content


def test_json_body_must_be_an_object_with_the_right_types(env):
    c = env.owner()
    h = store(c, "types target")
    before = snapshot(c)
    for body in ["[]", '"content"', "1", "null", "true", '[{"content":"x"}]']:
        for path in ["/api/memories", "/api/search", "/api/search/by-tag", "/api/search/by-time", "/api/documents"]:
            refused(c.post(path, content=body, headers={"content-type": "application/json"}), 400)
        refused(c.put(f"/api/memories/{h}", content=body, headers={"content-type": "application/json"}), 400)
        refused(c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"}), 400)
    wrong = {
        "content": [None, True, 0, 1.5, [], ["x"], {}, {"text": "x"}, "", "   "],
        "tags": [True, 0, 1.5, {"a": 1}, [1], [None], [["x"]], [{"t": "x"}], [True]],
        "memory_type": [True, 0, 1.5, [], ["note"], {"t": "note"}, "two words"],
        "metadata": [True, 0, 1.5, "x", [], ["k", "v"]],
        "client_hostname": [True, 0, 1.5, [], {}, "h" * 300],
        "unexpected_field": ["x", 1, None],
    }
    for field, values in wrong.items():
        for v in values:
            body = {"content": "wrong types base"} | {field: v}
            r = refused(c.post("/api/memories", json=body), 400)
            assert r.json()["detail"], (field, v)
    wrong_search = {
        "query": [None, True, 0, 1.5, [], ["x"], {}, "", " ", "q" * 2001],
        "n_results": [True, "5", 0, -1, 1.5, 101, 10**30, [], {}],
        "similarity_threshold": [True, "0.5", -0.1, 1.5, [], {}],
        "tags": [True, "x", 0, {"a": 1}, [1], [None], [["x"]]],
        "time_filter": [True, 0, [], {}, "the twelfth of never"],
        "memory_type": [True, 0, [], {}],
        "unexpected_field": [1],
    }
    for field, values in wrong_search.items():
        for v in values:
            refused(c.post("/api/search", json={"query": "x"} | {field: v}), 400)
    for body in [{"tags": 5}, {"tags": None}, {"tags": ["a"], "match_all": "yes"}, {"tags": ["a"], "operation": "XOR"},
                 {"tags": ["a"], "n_results": "3"}, {"tags": ["a"], "extra": 1}]:
        refused(c.post("/api/search/by-tag", json=body), 400)
    for body in [{"query": 5}, {"query": None}, {"query": "today", "n_results": 0}, {"query": "today", "extra": 1}]:
        refused(c.post("/api/search/by-time", json=body), 400)
    for body in [{"tags": 5}, {"metadata": [1]}, {"memory_type": 3}, {"content": "new"}, {}, {"tags": ["a"], "x": 1}]:
        refused(c.put(f"/api/memories/{h}", json=body), 400)
    assert snapshot(c) == before


def test_empty_bodies_and_wrong_content_types(env):
    c = env.owner()
    h = store(c, "content type target")
    before, admin_before = snapshot(c), admin_state(env)
    posts = ["/api/memories", "/api/search", "/api/search/by-tag", "/api/search/by-time", "/api/documents", "/api/import",
             "/v1/chat/completions", "/v1/embeddings", "/v1/images/generations", "/analyze_error", "/mcp"]
    for path in posts:
        refused(c.post(path, content=b"", headers={"content-type": "application/json", **MCP_HEADERS}), 400)
        refused(c.post(path, content=b"   \n\t ", headers={"content-type": "application/json", **MCP_HEADERS}), 400)
    refused(c.put(f"/api/memories/{h}", content=b""), 400)
    refused(env.admin.post("/admin/keys", content=b""), 400)
    refused(env.admin.put("/admin/config", content=b""), 400)
    valid = b'{"content":"sent with the wrong content type"}'
    for ctype in ["application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz",
                  "image/png", "application/octet-stream", "text/html"]:
        refused(c.post("/api/memories", content=valid, headers={"content-type": ctype}), 400, 415)
        refused(c.post("/api/search", content=b'{"query":"x"}', headers={"content-type": ctype}), 400, 415)
        refused(c.post("/v1/chat/completions", content=b'{"model":"m","messages":[{"role":"user","content":"x"}]}',
                       headers={"content-type": ctype}), 400, 415)
    refused(c.post("/api/memories", content='{"content":"utf16"}'.encode("utf-16"), headers={"content-type": "application/json; charset=utf-16"}), 400)
    refused(c.post("/api/memories", data={"content": "form"}), 400, 415)
    refused(c.post("/api/documents", content=b"--zz--", headers={"content-type": "multipart/form-data; boundary=zz"}), 400)
    refused(c.post("/api/documents", content=b"garbage", headers={"content-type": "multipart/form-data"}), 400)
    assert snapshot(c) == before
    assert admin_state(env) == admin_before


def test_unknown_methods_answer_405_with_allow(env):
    c = env.owner()
    h = "a" * 64
    cases = [
        ("PATCH", "/api/memories", {"GET", "POST"}), ("DELETE", "/api/memories", {"GET", "POST"}),
        ("PATCH", f"/api/memories/{h}", {"GET", "PUT", "DELETE"}), ("POST", f"/api/memories/{h}", {"GET", "PUT", "DELETE"}),
        ("PATCH", "/api/search", {"POST"}), ("GET", "/api/search", {"POST"}), ("PUT", "/api/documents", {"GET", "POST"}),
        ("PATCH", "/v1/chat/completions", {"POST"}), ("GET", "/v1/embeddings", {"POST"}), ("DELETE", "/v1/models", {"GET"}),
        ("PATCH", "/admin/keys", {"GET", "POST"}), ("PATCH", "/admin/config", {"GET", "PUT"}), ("POST", "/images/abc", {"GET"}),
        ("PATCH", "/mcp", {"POST", "GET", "DELETE"}), ("PUT", "/mcp", {"POST", "GET", "DELETE"}), ("PATCH", "/openapi.json", {"GET"}),
    ]
    for method, path, allowed in cases:
        r = refused(c.request(method, path, json={"content": "x"}), 405)
        allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
        assert allowed <= allow, f"{method} {path}: Allow {allow}, expected {allowed}"
        assert method not in allow
    # GET and DELETE /mcp are served, but only to say: use POST.
    for method in ["GET", "DELETE"]:
        r = refused(c.request(method, "/mcp"), 405)
        assert "POST" in r.headers.get("allow", "")


def test_methods_the_router_does_not_know_are_405(env):
    """Methods that the HTTP layer does not know (WebDAV, QUERY, PURGE ...) must not be
    served as GET: they are 405, like PATCH."""
    c = env.owner()
    store(c, "visible only through GET")
    wrong = []
    for method in ["QUERY", "PROPFIND", "SEARCH", "MKCOL", "PURGE", "COPY", "MOVE", "LOCK", "UNLOCK"]:
        for client, path in [(c, "/api/memories"), (c, "/api/stats"), (env.admin, "/admin/keys"), (c, "/v1/models")]:
            r = client.request(method, path)
            if r.status_code != 405:
                wrong.append(f"{method} {path} -> {r.status_code}")
            else:
                refused(r, 405)
    assert not wrong, f"{len(wrong)} requests with such methods were served (as GET): " + ", ".join(wrong)


# ---------------------------------------------------------------------------------------
# Headers and paths


def test_header_injection_is_refused_or_harmless(env):
    c = env.owner()
    before = snapshot(c)
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode()
    ct = (b"Content-Type", b"application/json")
    # A bare CR inside a header value: refused before or by the Worker, and nothing reflected.
    for value in [b"abc\rSet-Cookie: evil=1", b"abc\x00def", b"abc\x7fdef"]:
        status, headers, body = env.raw("POST", "/v1/chat/completions", [ct, (b"X-Conversation-Id", value)], chat, key=c.key)
        assert 400 <= status < 500, (value, status, body[:200])
        assert not any(k == "set-cookie" for k, _ in headers), headers
        assert_no_internals(body.decode(errors="replace"))
        if dict(headers).get("content-type", "").startswith("application/json"):
            assert_error_shape("/v1/chat/completions", status, headers, body)
    # A bare LF ends the header line: the injected line is a request header, never echoed.
    status, headers, body = env.raw("POST", "/v1/chat/completions", [ct, (b"X-Conversation-Id", b"abc\nSet-Cookie: evil=1")], chat, key=c.key)
    assert status in (200, 400), (status, body[:300])
    assert not any(k == "set-cookie" or "evil" in v for k, v in headers), headers
    if status == 200:
        assert dict(headers).get("x-conversation-id") == "abc"
    # Encoded CR/LF, spaces, slashes, over-long ids: refused as a bad conversation id.
    for value in ["abc%0d%0aSet-Cookie:%20evil=1", "../../etc/passwd", "a b", "x" * 129, "id;drop", "\u00e9t\u00e9"]:
        r = refused(c.post("/v1/chat/completions", content=chat, headers={"content-type": "application/json",
                                                                          "x-conversation-id": value.encode("utf-8")}), 400)
        assert r.json()["error"]["param"] == "conversation_id"
        assert "set-cookie" not in r.headers and "x-conversation-id" not in r.headers
    for value in ["abc\r\nSet-Cookie: evil=1", "a\x00b", "x" * 5000, "../x"]:
        r = refused(c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "conversation_id": value}), 400)
        assert "set-cookie" not in r.headers
    # Very long credentials are just wrong credentials.
    for n in [16 * 1024, 200 * 1024]:
        refused(c.get("/api/memories", headers={"authorization": "Bearer sk-" + "a" * n}), 401)
        refused(c.get("/api/memories", headers={"authorization": "", "x-api-key": "sk-" + "b" * n}), 401)
        refused(c.post("/v1/chat/completions", content=chat, headers={"authorization": "Bearer " + "c" * n, "content-type": "application/json"}), 401)
        refused(c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"authorization": "Bearer " + "d" * n, **MCP_HEADERS}), 401)
    status, headers, body = env.raw("GET", "/api/memories", [(b"Authorization", b"Bearer sk-" + b"e" * (2 * 1024 * 1024))])
    assert 400 <= status < 500, status  # the runtime refuses a 2 MB head (431) before the Worker
    # Two keys at once (two Authorization headers) authenticate neither owner.
    other = env.owner()
    status, headers, body = env.raw("GET", "/api/memories", [(b"Authorization", b"Bearer " + c.key.encode()),
                                                             (b"Authorization", b"Bearer " + other.key.encode())])
    assert status == 401, (status, body[:200])
    assert_error_shape("/api/memories", status, headers, body)
    # A key's SHA-256 is not a credential; nor is the admin password.
    for cred in [hashlib.sha256(c.key.encode()).hexdigest(), hashlib.sha256(env.admin_key.encode()).hexdigest(), ADMIN_PASSWORD]:
        refused(c.get("/api/memories", headers={"authorization": f"Bearer {cred}"}), 401)
        refused(c.get("/admin/keys", headers={"authorization": f"Bearer {cred}"}), 401)
        refused(c.get("/api/memories", headers={"authorization": "", "x-api-key": cred}), 401)
    refused(c.get("/api/memories", headers={"authorization": "Basic " + base64.b64encode(f"x:{c.key}".encode()).decode()}), 401)
    assert snapshot(c) == before


def test_drawing_reply_validates_the_conversation_id_header(env):
    """The drawing shortcut ("/draw ...") must apply the same conversation id rules as the
    chat path: an invalid X-Conversation-Id is refused and no conversation is stored."""
    c = env.owner()
    convs_before = admin_state(env)[2]
    for value in ["a b/c", "../../etc/passwd", "x" * 300]:
        r = c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "/draw a lighthouse"}]},
                   headers={"x-conversation-id": value})
        assert r.status_code == 400, (
            f"/draw with X-Conversation-Id {value[:40]!r} answered {r.status_code} (x-conversation-id echoed: "
            f"{r.headers.get('x-conversation-id', '')[:40]!r}); the chat path answers 400 for the same id")
        refused(r, 400)
    stored = [cv for cv in admin_state(env)[2] if cv not in convs_before]
    assert not stored, f"conversations stored under invalid ids: {stored}"


def test_path_traversal_in_ids(env):
    c = env.owner()
    h = store(c, "traversal target")
    doc = ok_json(c.post("/api/documents", json={"title": "traversal doc", "text": "some document text"}), 201)["document"]
    before, admin_before = snapshot(c), admin_state(env)
    for path in ["/api/memories/..%2F..%2Fetc%2Fpasswd", "/api/memories/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                 "/api/memories/..%5C..%5Cwindows", f"/api/memories/{h.upper()}", f"/api/memories/{h}%00",
                 f"/api/memories/{h[:-1]}%00", "/api/memories/%00", "/api/memories/*", "/api/memories/%25"]:
        for method in ["GET", "PUT", "DELETE"]:
            refused(c.request(method, path, json={"tags": ["x"]}), 400, 404)
    for path in ["/api/documents/..%2F..%2Fx", f"/api/documents/{doc['id']}%00", "/api/documents/%00",
                 "/api/documents/" + "a" * 65, "/api/documents/*", f"/api/documents/{doc['id']}%2F..%2F{doc['id']}"]:
        refused(c.delete(path), 400, 404)
    for path in ["/images/..%2Fsecret", "/images/..%2F..%2Fconfig", "/images/%00", "/images/" + "0" * 31 + "%00",
                 "/images/" + "f" * 32]:
        refused(c.get(path), 404)
    for path in ["/admin/keys/%00", "/admin/keys/..%2F..%2Fx", "/admin/keys/*", "/admin/keys/%25"]:
        refused(env.admin.delete(path), 400, 404)
    for path in ["/admin/conversations/..%2Fx", "/admin/conversations/%00", "/admin/conversations/" + "x" * 300]:
        refused(env.admin.get(path), 400, 404)
    # Unencoded dot segments, sent byte for byte: normalised away or refused, never resolved.
    for method, path, key in [("DELETE", "/api/documents/../../x", c.key), ("GET", "/images/../secret", None),
                              ("GET", "/api/memories/../../../etc/passwd", c.key), ("DELETE", "/admin/keys/../../x", env.admin_key),
                              ("GET", "/api/memories/./" + h + "/..", c.key), ("DELETE", f"/api/documents/{doc['id']}/..", c.key)]:
        status, headers, body = env.raw(method, path, key=key)
        if not (method == "GET" and status == 200):
            assert status in (400, 404, 405), (method, path, status, body[:200])
            assert_error_shape("/api/x", status, headers, body, f"{method} {path}")
        assert b"root:" not in body
    assert snapshot(c) == before
    assert admin_state(env) == admin_before


# ---------------------------------------------------------------------------------------
# Query syntax


SEARCH_SYNTAX = ['"', '""', '"unbalanced', "NEAR(", "NEAR(a b", "NEAR(a, b, 3)", "*", "a*", "*a", "OR", "AND", "NOT",
                 "a OR", "OR OR OR", "content:", "content:x", "tags:secret", "{content tags}:x", "^x", "(", ")", "()",
                 "-x", "+x", "x:y:z", "'; DROP TABLE memories;--", "' OR '1'='1", "\" OR 1=1 --", "1; SELECT * FROM api_keys",
                 "%", "_", "\\", "\\\"", "\x00", "memories_fts MATCH 'x'", "🙂 OR 🙃", "a\tb\nc", "x" * 2000]


def test_search_survives_sql_and_fts5_syntax(env):
    c = env.owner()
    hashes = {
        store(c, "Robert'); DROP TABLE memories;-- is a classic name", tags=["xkcd"]),
        store(c, 'quoted "phrase" with NEAR(a b) and * and OR inside content:field', tags=["syntax"]),
        store(c, "a plain memory about lighthouses"),
    }
    before = snapshot(c)
    for q in SEARCH_SYNTAX:
        body = ok_json(c.post("/api/search", json={"query": q, "n_results": 5}))
        assert set(body) >= {"results", "total_found", "query", "search_type", "processing_time_ms"}, body
        assert isinstance(body["results"], list) and body["total_found"] == len(body["results"])
        assert all(x["memory"]["content_hash"] in hashes for x in body["results"]), "another owner's memory?"
        for tool, args in [("memory_search", {"query": q}), ("retrieve_memory", {"query": q})]:
            mcp_tool_ok(mcp_call(c, tool, args))
    # The tables are intact and keyword search still works.
    assert snapshot(c) == before
    hits = ok_json(c.post("/api/search", json={"query": "DROP TABLE memories", "n_results": 3}))["results"]
    assert any("Robert'); DROP TABLE" in x["memory"]["content"] for x in hits)
    hits = ok_json(c.post("/api/search", json={"query": "lighthouses"}))["results"]
    assert hits and hits[0]["memory"]["content"] == "a plain memory about lighthouses"
    # Query syntax is searched as words: the memory that holds it is found by it.
    for q in ['NEAR(a b)', 'content:field', '"phrase" OR *']:
        hits = ok_json(c.post("/api/search", json={"query": q, "n_results": 1}))["results"]
        assert hits and "NEAR(a b)" in hits[0]["memory"]["content"], q


def test_sql_syntax_in_tags_types_and_owner_fields_is_data(env):
    c = env.owner()
    other = env.owner()
    store(other, "another owner's memory", tags=["x", "shared"])
    evil_tags = ["x' OR '1'='1", "'; DROP TABLE memory_tags;--", '" OR ""="', "%", "_", "*", "shared' --"]
    h = store(c, "tagged with sql", tags=evil_tags, memory_type="x'--")
    plain = store(c, "plain neighbour", tags=["plain"])
    m = ok_json(c.get(f"/api/memories/{h}"))
    assert m["tags"] == evil_tags and m["memory_type"] == "x'--"
    for tag in evil_tags:
        found = ok_json(c.post("/api/search/by-tag", json={"tags": [tag]}))["results"]
        assert [x["memory"]["content_hash"] for x in found] == [h], (tag, found)
        listed = ok_json(c.get("/api/memories", params={"tag": tag}))
        assert listed["total"] == 1 and listed["memories"][0]["content_hash"] == h, (tag, listed)
    for tag in ["' OR '1'='1", "' OR 1=1 --", "plain' OR 'a'='a", "%", "*"]:
        if tag in evil_tags:
            continue
        assert ok_json(c.get("/api/memories", params={"tag": tag}))["total"] == 0, tag
        assert ok_json(c.post("/api/search/by-tag", json={"tags": [tag]}))["results"] == [], tag
    assert ok_json(c.get("/api/memories", params={"memory_type": "' OR '1'='1"}))["total"] == 0
    assert ok_json(c.get("/api/memories", params={"memory_type": "x'--"}))["total"] == 1
    assert ok_json(c.get("/api/memories"))["total"] == 2 and {plain, h} == {x["content_hash"] for x in c.get("/api/memories").json()["memories"]}
    refused(c.post("/api/search/by-time", json={"query": "'; DROP TABLE memories;--"}), 400)
    refused(c.post("/api/search", json={"query": "x", "time_filter": "' OR 1=1"}), 400)
    # Owners are validated names, never SQL.
    for owner in ["x'; DROP TABLE memories;--", "' OR '1'='1", "../admin", "admin\x00", "a b", "o" * 65, ""]:
        refused(env.admin.post("/admin/keys", json={"name": "evil owner", "owner": owner}), 400)
        if owner:
            refused(env.admin.get("/admin/conversations", params={"owner": owner}), 400)
    assert ok_json(other.get("/api/memories"))["total"] == 1


def test_over_long_and_too_many_tags(env):
    c = env.owner()
    h = store(c, "tag limits target", tags=["ok"])
    before = snapshot(c)
    long_tag = "t" * 1000
    many = [f"tag{i}" for i in range(10_000)]
    for tags in [[long_tag], ["ok", long_tag], many, ",".join(many), long_tag + ",x", ["é" * 101]]:
        refused(c.post("/api/memories", json={"content": "too many or too long", "tags": tags}), 400, 413)
        refused(c.put(f"/api/memories/{h}", json={"tags": tags}), 400, 413)
        refused(c.post("/api/search/by-tag", json={"tags": tags}), 400, 413)
        refused(c.post("/api/documents", json={"title": "t", "text": "body", "tags": tags}), 400, 413)
        assert mcp_tool_error(mcp_call(c, "memory_store", {"content": "mcp too many", "tags": tags}))
        assert mcp_tool_error(mcp_call(c, "memory_update", {"content_hash": h, "tags": tags}))
    refused(c.post("/api/search", json={"query": "x", "tags": many}), 400, 413)
    refused(c.post("/api/documents", files={"file": ("a.txt", b"body", "text/plain")}, data={"tags": ",".join(many)}), 400, 413)
    refused(c.post("/api/memories", json={"content": "x", "memory_type": "t" * 65}), 400)
    refused(c.post("/api/documents", json={"title": "t" * 301, "text": "body"}), 400)
    assert snapshot(c) == before


def test_mcp_batches_answer_every_request(env):
    """JSON-RPC 2.0: a batch gets one response per request. A server that limits batch size
    must refuse the batch, not silently drop what is past the limit."""
    c = env.owner()
    batch = [{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(150)]
    r = c.post("/mcp", headers=MCP_HEADERS, json=batch)
    if r.status_code == 200:
        answers = r.json()
        ids = sorted(a["id"] for a in answers)
        assert ids == list(range(150)), f"a batch of 150 requests got {len(answers)} answers (ids {ids[0]}..{ids[-1]}): the rest were dropped silently"
    else:
        refused(r, 400, 413)


# ---------------------------------------------------------------------------------------
# Isolation


def test_another_owner_cannot_read_change_or_delete_by_id(env):
    a = env.owner()
    b = env.owner()
    secret = "owner A's secret plan: the vault code is 7319"
    h = store(a, secret, tags=["vault"], metadata={"pin": 7319})
    doc = ok_json(a.post("/api/documents", json={"title": "A's doc", "text": "A's document text about the vault"}), 201)["document"]
    a_before = snapshot(a)
    responses = [
        refused(b.get(f"/api/memories/{h}"), 404),
        refused(b.put(f"/api/memories/{h}", json={"tags": ["stolen"]}), 404),
        refused(b.put(f"/api/memories/{h}", json={"metadata": {"pwned": True}}), 404),
        refused(b.delete(f"/api/memories/{h}"), 404),
        refused(b.delete(f"/api/documents/{doc['id']}"), 404),
    ]
    for text in [mcp_tool_error(mcp_call(b, "memory_delete", {"content_hash": h})),
                 mcp_tool_error(mcp_call(b, "memory_delete", {"content_hash": h, "dry_run": True})),
                 mcp_tool_error(mcp_call(b, "delete_memory", {"content_hash": h})),
                 mcp_tool_error(mcp_call(b, "memory_update", {"content_hash": h, "tags": ["stolen"]}))]:
        assert "no memory" in text or "not found" in text, text
        assert "vault" not in text and "7319" not in text
    by_tags = mcp_tool_ok(mcp_call(b, "memory_delete", {"tags": ["vault"]}))
    assert by_tags["matched"] == [] and by_tags["deleted"] == 0
    for r in responses:
        assert "secret plan" not in r.text and "7319" not in r.text
    # Nothing of A's is visible to B anywhere.
    seen = [
        b.get("/api/memories").text, b.get("/api/memories", params={"tag": "vault"}).text, b.get("/api/tags").text,
        b.get("/api/documents").text, b.get("/api/export").text, b.get("/api/stats").text,
        b.post("/api/search", json={"query": "secret plan vault code"}).text,
        b.post("/api/search/by-tag", json={"tags": ["vault"]}).text,
        b.post("/api/search/by-time", json={"query": "today"}).text,
        mcp_call(b, "memory_search", {"query": "vault code"}).text, mcp_call(b, "memory_list", {}).text,
        b.post("/mcp", headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "memory://recent/100"}}).text,
        b.post("/mcp", headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "memory://tags"}}).text,
    ]
    for text in seen:
        for leaked in ["7319", "secret plan:", "A's document text", h, doc["id"]]:
            assert leaked not in text, (leaked, text[:300])
    assert ok_json(b.get("/api/stats"))["total_memories"] == 0
    assert snapshot(a) == a_before
    assert ok_json(a.get(f"/api/memories/{h}"))["content"] == secret


def test_conversations_and_retrieval_stay_with_their_owner(env):
    a = env.owner()
    b = env.owner()
    h = store(a, "owner A's favourite colour is vermilion")
    conv = f"shared-{uuid.uuid4().hex[:8]}"
    ask = lambda c, text: c.post("/v1/chat/completions", headers={"x-conversation-id": conv},
                                 json={"model": "m", "messages": [{"role": "user", "content": text}]})
    ra = ask(a, "remember: A's private turn about vermilion")
    assert ra.status_code == 200, ra.text
    n = len(env.upstream.requests)
    rb = ask(b, "what is the favourite colour vermilion?")
    assert rb.status_code == 200, rb.text
    sent = json.dumps(env.upstream.requests[n:])
    assert "A's private turn" not in sent, "B's request carried A's conversation history"
    assert "favourite colour is vermilion" not in sent, "B's request carried A's memory"
    assert h not in rb.headers.get("x-memgate-sources", "")
    assert ra.headers.get("x-conversation-id") == rb.headers.get("x-conversation-id") == conv


def test_admin_endpoints_refuse_other_keys(env):
    user = env.owner()
    readonly = env.owner(scopes=["memory:read"])
    chat_only = env.owner(scopes=["chat"])
    admin_before = admin_state(env)
    some_key_id = admin_before[0][0]
    endpoints = [("GET", "/admin/keys", None), ("POST", "/admin/keys", {"name": "mine", "owner": "thief", "scopes": ["admin"]}),
                 ("DELETE", f"/admin/keys/{some_key_id}", None), ("GET", "/admin/config", None),
                 ("PUT", "/admin/config", {"system_prompt": "pwned"}), ("GET", "/admin/usage", None),
                 ("GET", "/admin/conversations", None), ("GET", "/admin/conversations/some-id", None)]
    for c in [user, readonly, chat_only]:
        for method, path, body in endpoints:
            r = refused(c.request(method, path, json=body), 403)
            assert "admin" in r.json()["detail"]
    anonymous = env.client(None)
    for method, path, body in endpoints:
        refused(anonymous.request(method, path, json=body), 401)
        refused(anonymous.request(method, path, json=body, headers={"cookie": "memgate_session=" + "0" * 64}), 401)
    # Scopes hold on the other surfaces too.
    refused(readonly.post("/api/memories", json={"content": "x"}), 403)
    refused(readonly.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}), 403)
    refused(chat_only.get("/api/memories"), 403)
    assert "memory:write" in mcp_tool_error(mcp_call(readonly, "memory_store", {"content": "x"}))
    assert admin_state(env) == admin_before


# ---------------------------------------------------------------------------------------
# Secrets: checked over every body this module collected (keep this test last).


def test_zz_no_secret_in_any_response_body(env):
    # A few more answers that talk about keys, config and sessions, so that the scan has
    # substance even when this test runs alone.
    c = env.owner()
    env.admin.get("/admin/keys")
    env.admin.get("/admin/config")
    env.admin.get("/admin/usage")
    env.admin.get("/admin/conversations")
    c.get("/api/memories", headers={"authorization": "Bearer sk-" + "0" * 48})
    env.client(None).post("/admin/login", json={"password": "wrong " + ADMIN_PASSWORD})
    env.client(None).post("/admin/init", json={"admin_password": ADMIN_PASSWORD})
    c.post("/mcp", headers=MCP_HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert len(env.bodies) >= 8
    secrets = {"admin password": ADMIN_PASSWORD, "upstream api key": UPSTREAM_SECRET}
    for i, key in enumerate(env.keys):
        secrets[f"key #{i}"] = key
        secrets[f"key #{i} sha256"] = hashlib.sha256(key.encode()).hexdigest()
        secrets[f"key #{i} body"] = key[3:]  # the random part alone
    leaks = []
    for label, text in env.bodies:
        for what, secret in secrets.items():
            if secret in text:
                leaks.append(f"{label}: contains the {what}")
    assert not leaks, "secrets in response bodies:\n  " + "\n  ".join(sorted(set(leaks))[:50])
    for label, text in env.bodies:
        assert_no_internals(text, label)
    # The runtime's log (the Worker's console output and the request lines) holds none either.
    log = env.worker.log_path.read_text(errors="replace")
    assert "POST /admin/login" in log, "the scan needs the request log"
    in_log = [what for what, secret in secrets.items() if secret in log]
    assert not in_log, f"secrets in the runtime log: {in_log}"
