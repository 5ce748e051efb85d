"""Property-based fuzzing of every operation in the running Worker's /openapi.json with
schemathesis: its coverage cases (boundary values, missing and wrongly typed fields) and
Hypothesis-generated positive and negative requests, sent with a fresh owner's key.

Checked for every response: no 5xx; the status is documented for the operation, or is a
4xx in the error shape of its surface; JSON bodies conform to the documented schema
(schemathesis' response_schema_conformance and content_type_conformance); no body reveals
internals. Failures are collected (not raised one by one), de-duplicated, and reported with
the smallest reproduction seen. Schema/validation disagreements that are not failures by
these rules (a documented-valid request refused, an invalid one accepted, an undocumented
but clean 4xx) are listed as warnings.

`POST /admin/init` (already initialised) and `POST /admin/login` (rate limited), and
`GET`/`DELETE /mcp` (fixed 405 answers) are left out. The memgate is the module's own."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
import warnings
from dataclasses import dataclass, field

import httpx
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from conftest import ADMIN_PASSWORD, init_worker
from harness import ScriptedServer, Worker

UPSTREAM_SECRET = "sk-fuzz-upstream-" + uuid.uuid4().hex
EXCLUDED = {("POST", "/admin/init"), ("POST", "/admin/login"), ("GET", "/mcp"), ("DELETE", "/mcp")}
MAX_EXAMPLES = 25  # Hypothesis examples per operation (positive and negative mixed)
MAX_COVERAGE_CASES = 250  # schemathesis coverage-phase cases per operation
TIME_BUDGET_S = 150  # stop generating (and say so) past this, to bound the run
SEED_BODIES = {
    ("POST", "/api/search/by-tag"): [{"tags": ["seed"]}, {"tags": "seed,other", "operation": "AND", "n_results": 3}],
    ("POST", "/api/search/by-time"): [{"query": "today"}, {"query": "last week", "n_results": 5}],
    ("POST", "/api/search"): [{"query": "seed memory", "tags": ["seed"], "time_filter": "today"}],
    ("POST", "/api/documents"): [{"title": "fuzz doc", "text": "a short document", "tags": ["d"], "format": "markdown"}],
    ("PUT", "/api/memories/{content_hash}"): [{"tags": ["seed", "updated"], "memory_type": "note", "metadata": {"k": 1}}],
    ("POST", "/mcp"): [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "memory_search", "arguments": {"query": "seed"}}},
                       [{"jsonrpc": "2.0", "id": 3, "method": "ping"}, {"jsonrpc": "2.0", "method": "notifications/initialized"}]],
    ("POST", "/v1/chat/completions"): [{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                                        "stream_options": {"include_usage": True}}],
    ("PUT", "/admin/config"): [{"rag": {"top_k": 3}}],
    ("POST", "/admin/keys"): [{"name": "fuzz made", "owner": "fuzz-made", "scopes": ["memory:read"], "rpm_limit": 100}],
}
INTERNAL_MARKERS = ("panicked", "runtimeerror", "d1_error", "sqlite", "wasm", "at src/", "src/http/", "src/core/",
                    "src/platform/", "traceback", "backtrace", "unwrap()", "rusterror", "jsvalue")
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    """POST /api/import takes NDJSON text; generated non-strings (negative cases) go as JSON."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")


def upstream_handler(req):
    """A fast OpenAI-compatible upstream: chat (JSON or SSE) and images."""
    body = req["body"] if isinstance(req["body"], dict) else {}
    if req["path"].endswith("/images/generations"):
        return 200, None, {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}
    base = {"id": "up-1", "created": 1, "model": "up"}
    if body.get("stream"):
        frames = [
            {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
            {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        return 200, {"content-type": "text/event-stream"}, iter([f"data: {json.dumps(f)}\n\n" for f in frames] + ["data: [DONE]\n\n"])
    return 200, None, {**base, "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def surface(path: str) -> str:
    if path == "/v1" or path.startswith("/v1/") or path == "/analyze_error":
        return "openai"
    if path == "/mcp" or path.startswith("/mcp/"):
        return "mcp"
    return "rest"


def error_shape_problem(path: str, content_type: str, body: bytes) -> str | None:
    """Why `body` is not the error shape of `path`'s surface, or None when it is."""
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}, not application/json"
    try:
        doc = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    kind = surface(path)
    if kind == "rest":
        if not (isinstance(doc, dict) and set(doc) == {"detail"} and isinstance(doc["detail"], str) and doc["detail"]):
            return 'not {"detail": str}'
    elif kind == "openai":
        err = doc.get("error") if isinstance(doc, dict) else None
        if not (isinstance(err, dict) and set(doc) == {"error"} and set(err) == {"message", "type", "param", "code"}
                and isinstance(err["message"], str) and isinstance(err["type"], str)
                and (err["param"] is None or isinstance(err["param"], str)) and (err["code"] is None or isinstance(err["code"], str))):
            return 'not {"error": {message, type, param, code}}'
    else:
        err = doc.get("error") if isinstance(doc, dict) else None
        if not (isinstance(err, dict) and doc.get("jsonrpc") == "2.0" and "id" in doc and isinstance(err.get("code"), int)
                and isinstance(err.get("message"), str)):
            return "not a JSON-RPC error object"
    return None


@dataclass
class Finding:
    kind: str
    operation: str
    status: int
    detail: str
    repro: str
    size: int
    ops: set = field(default_factory=set)


@dataclass
class Fuzz:
    url: str
    key: str
    doc: dict
    findings: dict = field(default_factory=dict)  # (kind, operation, status, signature) -> Finding
    notes: dict = field(default_factory=dict)
    sent: int = 0
    statuses: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    secrets: dict = field(default_factory=dict)  # what -> a value no response may contain

    def documented(self, method: str, template: str) -> set[str]:
        return set(self.doc["paths"][template][method.lower()]["responses"])

    def fitting(self, op, name: str, values: list) -> list:
        """The values that the path parameter `name` of `op` accepts by its schema."""
        item = self.doc["paths"][op.path]
        params = item.get("parameters", []) + item[op.method.lower()].get("parameters", [])
        schema = next((p.get("schema", {}) for p in params if p.get("name") == name and p.get("in") == "path"), {})
        return [v for v in values if jsonschema.Draft202012Validator(schema).is_valid(v)]

    def redact(self, text: str) -> str:
        return text.replace(self.key, "$KEY")

    def repro(self, response) -> tuple[str, int]:
        req = response.request
        path = re.sub(r"^https?://[^/]+", "", req.url)
        body = req.body or b""
        if isinstance(body, str):
            body = body.encode()
        shown_headers = {k: v for k, v in req.headers.items()
                         if k.lower() in ("content-type", "x-conversation-id", "x-memgate-rag", "accept", "mcp-protocol-version", "origin")}
        resp_body = response.content[:400].decode("utf-8", "replace")
        text = (f"{req.method} {path[:300]}\n      headers: {shown_headers}\n      body: {body[:400]!r}"
                f"{' ...(%d bytes)' % len(body) if len(body) > 400 else ''}\n      -> {response.status_code} {resp_body}")
        return self.redact(text), len(body) + len(path)

    def add(self, bucket: dict, kind: str, case, response, detail: str, signature: str = "",
            across_operations: bool = False) -> None:
        """Keeps one finding per (kind, operation, status, signature), with the smallest
        reproduction; `across_operations` merges one kind of failure over all operations."""
        op = f"{case.operation.method.upper()} {case.operation.path}"
        sig = re.sub(r"\d+", "N", signature or detail)[:160]
        status = response.status_code if not across_operations else 0
        key = (kind, "*" if across_operations else op, status, sig)
        text, size = self.repro(response)
        old = bucket.get(key)
        ops = (old.ops if old else set()) | {op}
        if old is None or size < old.size:
            bucket[key] = Finding(kind, op, response.status_code, self.redact(detail), text, size)
        bucket[key].ops = ops

    def report(self, bucket: dict) -> str:
        out = []
        for f in sorted(bucket.values(), key=lambda f: (f.operation, f.kind, f.status)):
            where = f.operation if len(f.ops) <= 1 else f"{len(f.ops)} operations: {', '.join(sorted(f.ops))}"
            out.append(f"- [{f.kind}] {where} -> {f.status}: {f.detail[:500]}\n    repro: {f.repro}")
        return "\n".join(out)


def check(fz: Fuzz, case, response) -> None:
    method, template = case.operation.method.upper(), case.operation.path
    status = response.status_code
    fz.sent += 1
    fz.statuses[(f"{method} {template}", status)] = fz.statuses.get((f"{method} {template}", status), 0) + 1
    content_type = (response.headers.get("content-type") or [""])[0]
    text = response.content.decode("utf-8", "replace")
    low = text.lower()
    if status >= 500:
        fz.add(fz.findings, "5xx", case, response, text[:300])
    for marker in INTERNAL_MARKERS:
        if marker in low:
            fz.add(fz.findings, "internals in body", case, response, f"contains {marker!r}", marker)
    for what, secret in fz.secrets.items():
        if secret in text:
            fz.add(fz.findings, "secret in body", case, response, f"contains the {what}", what)
    sent = (getattr(case, "method", None) or method).upper()
    if status == 405 and "allow" not in response.headers:
        fz.add(fz.findings, "405 without Allow", case, response, "no Allow header")
    if sent != method:
        # Coverage cases also try methods the path does not serve: 405 in the right shape
        # (OPTIONS is the CORS preflight: 204).
        if sent == "OPTIONS" and status == 204:
            return
        if status != 405:
            fz.add(fz.findings, f"{sent} is not refused with 405", case, response,
                   f"{sent} answered {status} instead of 405", sent, across_operations=True)
        elif error_shape_problem(case.operation.path, content_type, response.content):
            fz.add(fz.findings, "wrong error shape", case, response, error_shape_problem(case.operation.path, content_type, response.content))
        return
    documented = fz.documented(method, template)
    shape = error_shape_problem(case.operation.path, content_type, response.content) if 400 <= status < 500 else None
    if 400 <= status < 500 and shape:
        fz.add(fz.findings, "wrong error shape", case, response, shape)
    if str(status) not in documented and "default" not in documented:
        if 400 <= status < 500 and not shape:
            fz.add(fz.notes, "undocumented but clean 4xx", case, response, f"documented: {sorted(documented)}")
        elif status < 500:
            fz.add(fz.findings, "undocumented status", case, response, f"documented: {sorted(documented)}")
    if content_type.startswith("text/event-stream"):
        # An SSE stream: schemathesis would validate each event against the documented
        # `{"type": "string"}` (the whole stream); check its framing instead.
        if status == 200 and not response.content.startswith((b"event:", b"data:", b":", b"id:", b"retry:")):
            fz.add(fz.findings, "malformed event stream", case, response, "does not start with an SSE field")
    elif str(status) in documented:
        try:
            case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
        except FailureGroup as group:
            for failure in group.exceptions:
                fz.add(fz.findings, "schema mismatch", case, response, f"{failure.title}: {failure.message}", failure.title)
    # Disagreements between the schema and validation: reported, not failed.
    try:
        case.validate_response(response, checks=[negative_data_rejection, positive_data_acceptance])
    except FailureGroup as group:
        for failure in group.exceptions:
            fz.add(fz.notes, failure.title, case, response, failure.message.split("\n")[0][:300], failure.title)


def send(fz: Fuzz, session: requests.Session, case, headers: dict) -> None:
    try:
        response = case.call(base_url=fz.url, session=session, headers=headers, timeout=30)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError) as e:
        fz.skipped.append(f"{case.operation.method.upper()} {case.operation.path}: unsendable ({type(e).__name__})")
        return
    except requests.exceptions.RequestException as e:
        op = f"{case.operation.method.upper()} {case.operation.path}"
        fz.findings[("transport error", op, 0, type(e).__name__)] = Finding(
            "transport error", op, 0, f"{type(e).__name__}: {fz.redact(str(e))[:300]}", fz.redact(case.as_curl_command()), 0)
        return
    check(fz, case, response)


def fuzz_operations(fz: Fuzz, schema, operations, key: str, fixed_params: dict, deadline: float) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    session = requests.Session()
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    try:
        for op in operations:
            if time.monotonic() > deadline:
                fz.skipped.append(f"{op.method.upper()} {op.path}: time budget spent")
                continue
            coverage = schema.config.generation_for(operation=op, phase="coverage")
            for i, case in enumerate(schema.iter_coverage_cases(op, generation_modes=modes, generation_config=coverage)):
                if i >= MAX_COVERAGE_CASES:
                    break
                send(fz, session, case, headers)
            strategies = [op.as_strategy(generation_mode=m) for m in modes]
            # Valid bodies that random generation rarely hits, so that 2xx answers get checked.
            for body in SEED_BODIES.get((op.method.upper(), op.path), []):
                strategies.append(op.as_strategy(generation_mode=GenerationMode.POSITIVE, body=body, media_type="application/json"))
            # Also reach existing resources (ids that fit the parameter's schema), so that
            # their 2xx answers are checked too.
            for name in re.findall(r"{(\w+)}", op.path):
                for value in fz.fitting(op, name, fixed_params.get(name, [])):
                    strategies.append(op.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={name: value}))

            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True, verbosity=Verbosity.quiet,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=st.one_of(strategies))
            def run(case):
                if time.monotonic() < deadline:
                    send(fz, session, case, headers)

            run()
    finally:
        session.close()


# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_env():
    w = Worker(name="fuzz").start()
    up = ScriptedServer(upstream_handler)
    try:
        admin_key = init_worker(w)
        admin = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60)
        r = admin.put("/admin/config", json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "api_key": UPSTREAM_SECRET, "model": "up"}})
        assert r.status_code == 200, r.text

        def mint(owner, scopes=None):
            body = {"name": f"fuzz {owner}", "owner": owner} | ({"scopes": scopes} if scopes else {})
            r = admin.post("/admin/keys", json=body)
            assert r.status_code == 201, r.text
            return r.json()["key"], r.json()["id"]

        owner = f"fuzz-{uuid.uuid4().hex[:8]}"
        key, _ = mint(owner)
        admin_scope_key, _ = mint(f"fuzz-admin-{uuid.uuid4().hex[:6]}", ["admin"])
        spare_ids = [mint(f"spare-{i}")[1] for i in range(3)]
        user = httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        hashes = [user.post("/api/memories", json={"content": f"fuzz seed memory {i}", "tags": ["seed"]}).json()["content_hash"] for i in range(6)]
        docs = [user.post("/api/documents", json={"title": f"seed {i}", "text": f"seed document {i}"}).json()["document"]["id"] for i in range(3)]
        img = user.post("/v1/images/generations", json={"prompt": "a seed", "response_format": "url"})
        assert img.status_code == 200, img.text
        image_id = img.json()["data"][0]["url"].rsplit("/", 1)[1]
        conv = "fuzz-seed-conversation"
        chat = user.post("/v1/chat/completions", headers={"x-conversation-id": conv},
                         json={"model": "m", "messages": [{"role": "user", "content": "hello"}]})
        assert chat.status_code == 200, chat.text
        for c in (admin, user):
            c.close()
        schema = schemathesis.openapi.from_url(f"{w.url}/openapi.json")
        schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], with_security_parameters=False)
        schema.config.max_stream_events = 1  # /api/events never ends: stop after its first event
        fz = Fuzz(url=w.url, key=key, doc=httpx.get(f"{w.url}/openapi.json").json())
        fz.secrets = {"admin password": ADMIN_PASSWORD, "upstream api key": UPSTREAM_SECRET}
        for name, k in [("owner key", key), ("admin-scope key", admin_scope_key), ("bootstrap admin key", admin_key)]:
            fz.secrets[name] = k
            fz.secrets[f"{name} hash"] = hashlib.sha256(k.encode()).hexdigest()
        yield {
            "fuzz": fz, "schema": schema, "key": key, "admin_scope_key": admin_scope_key,
            "params": {"content_hash": hashes, "id": docs + [image_id, conv] + spare_ids},
        }
    finally:
        up.stop()
        w.stop()


def operations(schema, admin: bool):
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        key = (op.method.upper(), op.path)
        if key in EXCLUDED:
            continue
        if op.path.startswith("/admin/") == admin:
            ops.append(op)
    return ops


def finish(fz: Fuzz, what: str) -> None:
    if fz.notes:
        warnings.warn(f"{what}: schema/validation disagreements (not failures):\n" + fz.report(fz.notes), stacklevel=2)
    assert fz.sent > 0, "no request was sent"
    assert not fz.findings, (
        f"{what}: {len(fz.findings)} distinct failure(s) in {fz.sent} requests:\n" + fz.report(fz.findings)
        + ("\nnot sent: " + "; ".join(sorted(set(fz.skipped))[:20]) if fz.skipped else ""))


def test_every_operation_with_an_owner_key(fuzz_env):
    """Every operation outside /admin (and the admin ones too, which must refuse the key
    cleanly), fuzzed with a fresh owner's key."""
    fz: Fuzz = fuzz_env["fuzz"]
    schema = fuzz_env["schema"]
    deadline = time.monotonic() + TIME_BUDGET_S
    ops = operations(schema, admin=False) + operations(schema, admin=True)
    assert len(ops) >= 30, [f"{o.method} {o.path}" for o in ops]
    fuzz_operations(fz, schema, ops, fuzz_env["key"], fuzz_env["params"], deadline)
    served = {op for op, _ in fz.statuses}
    missing = {f"{o.method.upper()} {o.path}" for o in ops} - served
    assert not missing, f"operations never exercised: {sorted(missing)}"
    finish(fz, "owner-key fuzzing")


def test_admin_operations_with_an_admin_key(fuzz_env):
    """The admin API behind its scope: same rules, with a key holding `admin`."""
    fz = Fuzz(url=fuzz_env["fuzz"].url, key=fuzz_env["admin_scope_key"], doc=fuzz_env["fuzz"].doc,
              secrets=fuzz_env["fuzz"].secrets)
    schema = fuzz_env["schema"]
    ops = operations(schema, admin=True)
    # Keys created by the fuzzer stay; deleting uses the spare keys' ids or random ones.
    fuzz_operations(fz, schema, ops, fuzz_env["admin_scope_key"], fuzz_env["params"], time.monotonic() + 90)
    served = {op for op, _ in fz.statuses}
    missing = {f"{o.method.upper()} {o.path}" for o in ops} - served
    assert not missing, f"operations never exercised: {sorted(missing)}"
    finish(fz, "admin-key fuzzing")
