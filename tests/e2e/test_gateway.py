"""The OpenAI-compatible gateway driven by the official `openai` SDK against a scripted
OpenAI-compatible upstream on loopback (and Workers AI through a stand-in)."""

import base64
import json
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import key_for
from harness import ROOT, tool_env

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
UPSTREAM_MODEL = "upstream-model-x"


def last_user(body):
    for m in reversed(body.get("messages", [])):
        if m["role"] == "user":
            c = m["content"]
            return c if isinstance(c, str) else " ".join(p.get("text", "") for p in c)
    return ""


class Upstream:
    """Scripted behaviour keyed on the last user message."""

    def __init__(self):
        self.failures = {}
        # A "gated" stream sends its first word, then waits for the test to open the gate.
        self.gate = threading.Event()
        self.gate_opened_in_time = None

    def __call__(self, req):
        path, body = req["path"], req["body"] or {}
        if path.endswith("/images/generations"):
            return 200, None, {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}
        if not path.endswith("/chat/completions"):
            return 404, None, {"error": {"message": "no such route"}}
        text = last_user(body)
        if "429-once" in text and not self.failures.get(text):
            self.failures[text] = True
            return 429, {"retry-after": "0", "content-type": "application/json"}, json.dumps({"error": {"message": "slow down"}})
        if "500-always" in text:
            return 500, None, {"error": {"message": "upstream exploded"}}
        if "429-always" in text:
            return 429, {"retry-after": "0", "content-type": "application/json"}, json.dumps({"error": {"message": "quota exhausted"}})
        if "400-always" in text:
            return 400, None, {"error": {"message": "'stop' must be a string or an array"}}
        if "404-model" in text:
            return 404, None, {"error": {"message": f"The model `{UPSTREAM_MODEL}` does not exist or you do not have access to it."}}
        if "pip" in text.lower():
            reply = json.dumps({"diagnosis": "missing compiler", "cause": "no gcc", "fix_commands": ["apt-get install gcc"], "confidence": "high"})
        else:
            reply = f"echo: {text}"
        if "call-tool" in text:
            call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
            if not body.get("stream"):
                return 200, None, {"id": "up-2", "object": "chat.completion", "created": 1, "model": UPSTREAM_MODEL,
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
                                   "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}}
            def tool_chunks():
                base = {"id": "up-2", "object": "chat.completion.chunk", "created": 1, "model": UPSTREAM_MODEL}
                first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
                for delta in [{"role": "assistant", "content": None, "tool_calls": [first]},
                              {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
                              {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}]:
                    yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}) + "\n\n"
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}) + "\n\n"
                yield "data: [DONE]\n\n"
            return 200, {"content-type": "text/event-stream"}, tool_chunks()
        if body.get("stream"):
            def chunks():
                base = {"id": "up-1", "object": "chat.completion.chunk", "created": 1, "model": UPSTREAM_MODEL}
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}) + "\n\n"
                for i, w in enumerate(reply.split(" ")):
                    if "slow-stream" in text:
                        time.sleep(0.15)
                    if "gated" in text and i == 1:
                        self.gate_opened_in_time = self.gate.wait(10)
                    yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]}) + "\n\n"
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
                if (body.get("stream_options") or {}).get("include_usage"):
                    yield "data: " + json.dumps({**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}) + "\n\n"
                yield "data: [DONE]\n\n"
            return 200, {"content-type": "text/event-stream"}, chunks()
        return 200, None, {
            "id": "up-1", "object": "chat.completion", "created": 1, "model": UPSTREAM_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }


@pytest.fixture(scope="module")
def upstream(worker, admin_key, scripted):
    up = scripted(Upstream())
    r = httpx.put(f"{worker.url}/admin/config", headers={"Authorization": f"Bearer {admin_key}"},
                  json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "api_key": "upstream-secret", "model": UPSTREAM_MODEL},
                        "public_model_name": "memgate-test", "drawing": {"model": "dall-e-test"}})
    assert r.status_code == 200, r.text
    assert "upstream-secret" not in r.text
    return up


@pytest.fixture
def client(worker, make_key, upstream):
    key, owner = make_key()
    c = openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0, timeout=60)
    c.key, c.owner = key, owner
    return c


def test_models_and_non_streaming_chat(client, upstream):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["memgate-test", "memgate-embedding", "memgate-image"] and UPSTREAM_MODEL not in ids
    assert client.models.retrieve("memgate-test").id == "memgate-test"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(UPSTREAM_MODEL)
    r = client.chat.completions.create(model="memgate-test", messages=[{"role": "user", "content": "hello there"}], max_tokens=20, temperature=0.3, seed=7, user="u1")
    assert r.object == "chat.completion" and r.model == "memgate-test"
    assert r.choices[0].index == 0 and r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == "echo: hello there"
    assert r.usage.total_tokens == 18
    sent = upstream.requests[-1]["body"]
    assert sent["model"] == UPSTREAM_MODEL and sent["max_tokens"] == 20 and sent["seed"] == 7 and sent["user"] == "u1"
    assert upstream.requests[-1]["headers"]["Authorization"] == "Bearer upstream-secret"


def test_content_parts_and_roles(client, upstream):
    r = client.chat.completions.create(model="x", messages=[
        {"role": "developer", "content": "be terse"},
        {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]},
    ], max_completion_tokens=5)
    assert "part one" in r.choices[0].message.content
    sent = upstream.requests[-1]["body"]
    assert sent["max_completion_tokens"] == 5 and "max_tokens" not in sent, "the limit goes on under the caller's name"


def test_streaming_chunks_usage_and_done(client, worker):
    stream = client.chat.completions.create(model="memgate-test", messages=[{"role": "user", "content": "stream me please"}], stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == "memgate-test" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    assert all(ch.index == 0 for c in with_choices for ch in c.choices)
    finishes = [ch.finish_reason for c in with_choices for ch in c.choices if ch.finish_reason]
    assert finishes == ["stop"]
    text = "".join(ch.delta.content or "" for c in with_choices for ch in c.choices)
    assert text.strip() == "echo: stream me please"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 18
    # The raw frames: data: {json}\n\n ... data: [DONE]\n\n
    with httpx.stream("POST", f"{worker.url}/v1/chat/completions", headers={"Authorization": f"Bearer {client.key}"},
                      json={"messages": [{"role": "user", "content": "raw frames"}], "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    frames = [f for f in raw.split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert frames[-1] == "data: [DONE]"
    assert all(json.loads(f[6:])["choices"] for f in frames[:-1]), "no usage chunk unless asked"


def test_memories_reach_the_upstream_with_sources(client, worker, upstream):
    mem = httpx.post(f"{worker.url}/api/memories", headers={"Authorization": f"Bearer {client.key}"}, json={"content": "The launch code for project Falcon is tangerine-42"})
    h = mem.json()["content_hash"]
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "What is the launch code for project Falcon?"}])
    assert h in raw.headers["x-memgate-sources"].split(",")
    system = upstream.requests[-1]["body"]["messages"][0]
    assert system["role"] == "system" and "tangerine-42" in system["content"]
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "What is the launch code for project Falcon?"}], extra_headers={"X-Memgate-Rag": "off"})
    assert raw.headers["x-memgate-sources"] == ""
    assert "tangerine-42" not in json.dumps(upstream.requests[-1]["body"])


def test_conversation_continues_over_three_requests(client, worker, admin_key, upstream):
    conv = f"conv-{time.time_ns()}"
    for i, q in enumerate(["my name is Ada", "I like owls", "what do you know about me?"]):
        r = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": q}], extra_headers={"X-Conversation-Id": conv, "X-Memgate-Rag": "off"})
        assert r.headers["x-conversation-id"] == conv
        time.sleep(0.3)
    sent = [m for m in upstream.requests[-1]["body"]["messages"] if m["role"] != "system"]
    assert [m["content"] for m in sent] == ["my name is Ada", "echo: my name is Ada", "I like owls", "echo: I like owls", "what do you know about me?"]
    # A streamed answer is appended too.
    list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "streamed turn"}], stream=True, extra_headers={"X-Conversation-Id": conv}))
    time.sleep(0.5)
    listed = httpx.get(f"{worker.url}/admin/conversations", params={"owner": client.owner}, headers={"Authorization": f"Bearer {admin_key}"}).json()["conversations"]
    assert [c["id"] for c in listed] == [conv] and listed[0]["message_count"] == 8
    detail = httpx.get(f"{worker.url}/admin/conversations/{conv}", headers={"Authorization": f"Bearer {admin_key}"}).json()
    assert detail["messages"][-1]["content"].strip() == "echo: streamed turn"


def test_max_conversations_prunes_oldest(worker, admin_key, make_key, upstream):
    key, owner = make_key()
    c = openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0)
    hdr = {"Authorization": f"Bearer {admin_key}"}
    assert httpx.put(f"{worker.url}/admin/config", headers=hdr, json={"max_conversations": 2}).status_code == 200
    try:
        for i in range(3):
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"c{i}"}], extra_headers={"X-Conversation-Id": f"prune-{i}", "X-Memgate-Rag": "off"})
            time.sleep(0.4)
        ids = {x["id"] for x in httpx.get(f"{worker.url}/admin/conversations", params={"owner": owner}, headers=hdr).json()["conversations"]}
        assert ids == {"prune-1", "prune-2"}
    finally:
        httpx.put(f"{worker.url}/admin/config", headers=hdr, json={"max_conversations": 100})


def test_drawing_end_to_end(client, worker):
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "/draw a red fox in the snow"}])
    content = r.choices[0].message.content
    assert content.startswith("![a red fox in the snow](") and "/images/" in content
    url = content[content.index("(") + 1:-1]
    img = httpx.get(url)
    assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content == PNG
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "画 一只猫"}], stream=True))
    text = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    assert text.startswith("![一只猫](")
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["stop"]
    assert httpx.get(f"{worker.url}/images/{'0' * 32}").status_code == 404
    imgs = client.images.generate(prompt="a blue whale", response_format="b64_json")
    assert base64.b64decode(imgs.data[0].b64_json) == PNG
    imgs = client.images.generate(prompt="a blue whale")
    assert httpx.get(imgs.data[0].url).content == PNG


def test_embeddings_in_both_encodings(client):
    r = client.embeddings.create(model="memgate-embedding", input=["hello world", "goodbye"], encoding_format="float")
    assert len(r.data) == 2 and len(r.data[0].embedding) == 768 and r.data[1].index == 1
    b = client.embeddings.create(model="memgate-embedding", input="hello world")  # the SDK asks for base64
    assert len(b.data[0].embedding) == 768
    assert abs(b.data[0].embedding[0] - r.data[0].embedding[0]) < 1e-6
    raw = httpx.post(f"{client.base_url}embeddings", headers={"Authorization": f"Bearer {client.key}"},
                     json={"input": "hello world", "encoding_format": "base64"}).json()
    packed = raw["data"][0]["embedding"]
    assert isinstance(packed, str), "base64 is a string of little-endian float32s"
    import struct
    floats = struct.unpack("<768f", base64.b64decode(packed))
    assert abs(floats[0] - r.data[0].embedding[0]) < 1e-6
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="memgate-embedding", input=[[1, 2, 3]])
    assert "token" in e.value.body["message"]


def test_upstream_429_is_retried(client, upstream):
    n = len(upstream.requests)
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "429-once please"}])
    assert r.choices[0].message.content == "echo: 429-once please"
    assert len(upstream.requests) - n == 2


def test_persistent_upstream_500_is_a_clean_error(client):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "500-always"}])
    assert e.value.status_code == 502
    assert set(e.value.body) >= {"message", "type", "param", "code"}
    with pytest.raises(openai.APIStatusError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "500-always"}], stream=True))


def test_wrong_key_and_bad_requests(worker, client):
    bad = openai.OpenAI(base_url=f"{worker.url}/v1", api_key="sk-" + "0" * 48, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.body["type"] == "authentication_error"
    for body in [{"messages": []}, {"messages": [{"role": "wizard", "content": "x"}]}, {"messages": [{"role": "user", "content": "x"}], "temperature": 5}]:
        r = httpx.post(f"{worker.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {client.key}"})
        assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = httpx.post(f"{worker.url}/v1/chat/completions", content=b"{nope", headers={"Authorization": f"Bearer {client.key}", "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.options(f"{worker.url}/v1/chat/completions", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"


def test_quota_and_rate_limit(worker, make_key, upstream):
    key, _ = make_key(daily_token_quota=10)
    c = openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0)
    c.chat.completions.create(model="m", messages=[{"role": "user", "content": "spend tokens"}], extra_headers={"X-Memgate-Rag": "off"})
    time.sleep(0.5)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "more"}])
    assert int(e.value.response.headers["retry-after"]) > 0
    key, _ = make_key(rpm_limit=2)
    c = openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0)
    c.models.list()
    c.models.list()
    with pytest.raises(openai.RateLimitError):
        c.models.list()


def test_usage_is_recorded_per_key(worker, admin_key, client):
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "count me"}])
    list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "count me streaming"}], stream=True))
    time.sleep(0.5)
    usage = httpx.get(f"{worker.url}/admin/usage", params={"days": 1}, headers={"Authorization": f"Bearer {admin_key}"}).json()["usage"]
    keys = httpx.get(f"{worker.url}/admin/keys", headers={"Authorization": f"Bearer {admin_key}"}).json()["keys"]
    key_id = next(k["id"] for k in keys if client.key.startswith(k["prefix"]) and k["owner"] == client.owner)
    mine = [u for u in usage if u["key_id"] == key_id and u["model"] == "memgate-test"]
    assert mine and mine[0]["requests"] == 2 and mine[0]["prompt_tokens"] > 0 and mine[0]["completion_tokens"] > 0


def test_analyze_error(worker, admin_key, client):
    r = httpx.post(f"{worker.url}/analyze_error", headers={"Authorization": f"Bearer {client.key}"},
                   json={"machine_id": "build-box-1", "error_context": "pip install lxml failed: error: command 'gcc' failed"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["analysis"]["diagnosis"] == "missing compiler" and body["analysis"]["fix_commands"]
    assert body["log_key"].startswith("log:build-box-1:")
    got = subprocess.run(["wrangler", "kv", "key", "get", body["log_key"], "--binding", "KV", "--local", "--env", "local",
                          "-c", str(ROOT / "wrangler.toml"), "--persist-to", str(worker.state)],
                         cwd=ROOT, env=tool_env(), capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["machine_id"] == "build-box-1"
    for bad in [{"machine_id": "x y", "error_context": "e"}, {"machine_id": "m", "error_context": ""}, {"error_context": "e"}, {"machine_id": "m", "error_context": "e", "extra": 1}]:
        r = httpx.post(f"{worker.url}/analyze_error", headers={"Authorization": f"Bearer {client.key}"}, json=bad)
        assert r.status_code == 400 and "error" in r.json(), bad
    # Ten analyses a minute per machine; another machine is not held back.
    statuses = [httpx.post(f"{worker.url}/analyze_error", headers={"Authorization": f"Bearer {client.key}"},
                           json={"machine_id": "busy-box", "error_context": f"pip failed, try {i}"}) for i in range(11)]
    assert [r.status_code for r in statuses] == [200] * 10 + [429]
    assert int(statuses[-1].headers["retry-after"]) > 0 and statuses[-1].json()["error"]["type"] == "rate_limit_error"
    r = httpx.post(f"{worker.url}/analyze_error", headers={"Authorization": f"Bearer {client.key}"},
                   json={"machine_id": "quiet-box", "error_context": "pip failed"})
    assert r.status_code == 200
    # Analyses are counted as this key's chat usage.
    time.sleep(0.5)
    usage = httpx.get(f"{worker.url}/admin/usage", params={"days": 1}, headers={"Authorization": f"Bearer {admin_key}"}).json()["usage"]
    keys = httpx.get(f"{worker.url}/admin/keys", headers={"Authorization": f"Bearer {admin_key}"}).json()["keys"]
    key_id = next(k["id"] for k in keys if k["owner"] == client.owner)
    mine = [u for u in usage if u["key_id"] == key_id and u["model"] == "memgate-test"]
    assert mine and mine[0]["requests"] == 12 and mine[0]["completion_tokens"] > 0, mine


def test_workers_ai_provider_through_the_binding(cloud_worker):
    key = key_for(cloud_worker, cloud_worker.admin_key, "ai-user")
    c = openai.OpenAI(base_url=f"{cloud_worker.url}/v1", api_key=key, max_retries=0)
    r = c.chat.completions.create(model="memgate", messages=[{"role": "user", "content": "hi from the SDK"}], max_tokens=33)
    assert r.choices[0].message.content == "stand-in reply to: hi from the SDK"
    assert r.usage.total_tokens > 0
    # Workers AI's tool calls ({name, arguments: object}) come back in OpenAI's shape.
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "use-tool for Oslo"}], tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.type == "function" and call.id
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Oslo"})
    chunks = list(c.chat.completions.create(model="m", messages=[{"role": "user", "content": "use-tool for Oslo"}], tools=tools, stream=True))
    deltas = [tc for x in chunks for ch in x.choices for tc in (ch.delta.tool_calls or [])]
    assert deltas and deltas[0].index == 0 and deltas[0].function.name == "get_weather"
    assert json.loads(deltas[0].function.arguments) == {"city": "Oslo"}
    assert [ch.finish_reason for x in chunks for ch in x.choices if ch.finish_reason] == ["tool_calls"]
    limits = [c.chat.completions.create(model="m", messages=[{"role": "user", "content": "show max_tokens"}], **kw).choices[0].message.content
              for kw in ({"max_tokens": 33}, {"max_completion_tokens": 44}, {})]
    assert limits == ["max_tokens=33", "max_tokens=44", "max_tokens=1024"], "Workers AI always gets a limit"
    chunks = list(c.chat.completions.create(model="memgate", messages=[{"role": "user", "content": "stream from workers ai"}], stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.delta.content or "" for x in chunks for ch in x.choices)
    assert text == "stand-in reply to: stream from workers ai"
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    e = c.embeddings.create(model="x", input="hello", encoding_format="float")
    assert len(e.data[0].embedding) == 768
    img = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "/draw a lighthouse"}])
    url = img.choices[0].message.content.split("(")[1].rstrip(")")
    assert httpx.get(url).headers["content-type"] == "image/png"
    # A drawing that fails is an OpenAI error, and counted as one.
    with pytest.raises(openai.APIStatusError) as e:
        c.images.generate(prompt="this will fail")
    assert e.value.status_code == 502 and e.value.body["type"] == "upstream_error"
    time.sleep(0.5)
    hdr = {"Authorization": f"Bearer {cloud_worker.admin_key}"}
    key_id = next(k["id"] for k in httpx.get(f"{cloud_worker.url}/admin/keys", headers=hdr).json()["keys"] if k["owner"] == "ai-user")
    rows = [u for u in httpx.get(f"{cloud_worker.url}/admin/usage", params={"days": 1}, headers=hdr).json()["usage"]
            if u["key_id"] == key_id and u["errors"] > 0]
    assert rows, "the failed drawing is counted as an error"


def test_usage_counted_when_the_client_disconnects_mid_stream(worker, admin_key, make_key, upstream):
    key, owner = make_key()
    conv = f"left-early-{time.time_ns()}"
    body = {"messages": [{"role": "user", "content": "slow-stream " + "word " * 20}], "stream": True}
    with httpx.stream("POST", f"{worker.url}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}", "X-Memgate-Rag": "off", "X-Conversation-Id": conv}) as r:
        for line in r.iter_lines():
            if '"content":"slow-stream' in line.replace(" ", ""):
                break  # leave after the first content chunk
    keys = httpx.get(f"{worker.url}/admin/keys", headers={"Authorization": f"Bearer {admin_key}"}).json()["keys"]
    key_id = next(k["id"] for k in keys if k["owner"] == owner)
    deadline = time.time() + 15
    rows = []
    while time.time() < deadline:
        usage = httpx.get(f"{worker.url}/admin/usage", params={"days": 1}, headers={"Authorization": f"Bearer {admin_key}"}).json()["usage"]
        rows = [u for u in usage if u["key_id"] == key_id]
        if rows:
            break
        time.sleep(0.3)
    assert rows and rows[0]["requests"] == 1 and rows[0]["completion_tokens"] > 0, rows
    # The conversation holds the whole answer, not the part the client read.
    detail = httpx.get(f"{worker.url}/admin/conversations/{conv}", headers={"Authorization": f"Bearer {admin_key}"}).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][1]["content"].strip() == "echo: " + body["messages"][0]["content"].strip()


def test_a_streamed_request_is_retried_on_429_before_its_first_byte(client, upstream):
    n = len(upstream.requests)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "429-once streamed"}], stream=True,
                                                 extra_headers={"X-Memgate-Rag": "off"}))
    assert "".join(ch.delta.content or "" for c in chunks for ch in c.choices).strip() == "echo: 429-once streamed"
    assert len(upstream.requests) - n == 2


def test_frames_leave_as_the_upstream_produces_them(client, worker, upstream):
    """The upstream holds its answer after the first word until the test has that word: a
    gateway that buffered the stream would deliver nothing until the upstream gave up."""
    script = upstream.handler
    script.gate.clear()
    script.gate_opened_in_time = None
    texts = []
    with httpx.stream("POST", f"{worker.url}/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {client.key}", "X-Memgate-Rag": "off"},
                      json={"messages": [{"role": "user", "content": "gated answer please"}], "stream": True}) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for ch in json.loads(line[6:])["choices"]:
                texts.append(ch["delta"].get("content") or "")
            if "".join(texts).strip() == "echo:":
                assert script.gate_opened_in_time is None, "the upstream was still holding the rest"
                script.gate.set()
    assert script.gate_opened_in_time is True, "the first word reached the client before the upstream went on"
    assert "".join(texts).strip() == "echo: gated answer please"


def test_openai_parameters_reach_the_upstream_and_unknown_fields_do_not(client, upstream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    history = [
        {"role": "developer", "content": "answer briefly"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        {"role": "user", "content": "and tomorrow?"},
    ]
    client.chat.completions.create(model="m", messages=history, tools=tools, tool_choice="auto", stop=["\n\n"], top_p=0.5,
                                   response_format={"type": "text"}, extra_body={"unknown_field": 1, "top_k": 5},
                                   extra_headers={"X-Memgate-Rag": "off"})
    sent = upstream.requests[-1]["body"]
    assert sent["tools"] == tools and sent["tool_choice"] == "auto" and sent["stop"] == ["\n\n"] and sent["top_p"] == 0.5
    assert sent["response_format"] == {"type": "text"} and sent["top_k"] == 5
    assert "unknown_field" not in sent and "conversation_id" not in sent
    assert sent["messages"][0]["role"] == "system", "the configured system prompt comes first"
    sent_history = sent["messages"][1:]
    assert [m["role"] for m in sent_history] == ["developer", "user", "assistant", "tool", "user"]
    assert sent_history[3]["tool_call_id"] == "call_0" and sent_history[2]["tool_calls"][0]["id"] == "call_0"


def test_tool_calls_come_back_streaming_and_not(client):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "call-tool for Oslo"}], tools=tools, extra_headers={"X-Memgate-Rag": "off"})
    assert r.choices[0].finish_reason == "tool_calls"
    call = r.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_1", "get_weather", {"city": "Oslo"})
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "call-tool for Oslo"}], tools=tools, stream=True,
                                                 extra_headers={"X-Memgate-Rag": "off"}))
    deltas = [tc for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert deltas[0].id == "call_1" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Oslo"}
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]


def test_upstream_errors_are_openai_errors_that_never_name_the_upstream_model(client, upstream):
    n = len(upstream.requests)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "429-always"}], extra_headers={"X-Memgate-Rag": "off"})
    assert len(upstream.requests) - n > 1, "a 429 is retried before it is passed on"
    assert int(e.value.response.headers["retry-after"]) > 0 and e.value.body["type"] == "rate_limit_error"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "400-always"}], extra_headers={"X-Memgate-Rag": "off"})
    assert "'stop' must be" in e.value.body["message"]
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as e:
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "404-model"}], stream=stream, extra_headers={"X-Memgate-Rag": "off"})
            list(r) if stream else None
        assert e.value.status_code == 400 and "does not exist" in e.value.body["message"]
        assert UPSTREAM_MODEL not in e.value.response.text


def test_body_conversation_id_and_expired_conversations_pruned_by_the_scheduler(worker, admin_key, client, upstream):
    conv = f"body-conv-{time.time_ns()}"
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "remember plums"}], extra_body={"conversation_id": conv}, extra_headers={"X-Memgate-Rag": "off"})
    time.sleep(0.4)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "what fruit?"}], extra_body={"conversation_id": conv}, extra_headers={"X-Memgate-Rag": "off"})
    assert "remember plums" in [m["content"] for m in upstream.requests[-1]["body"]["messages"]]
    hdr = {"Authorization": f"Bearer {admin_key}"}
    assert httpx.get(f"{worker.url}/admin/conversations/{conv}", headers=hdr).status_code == 200
    # Forty days pass for this conversation (the default retention is 30).
    worker.d1(f"UPDATE conversations SET updated_at = updated_at - 40 * 86400 WHERE id = '{conv}'")
    assert httpx.get(f"{worker.url}/admin/conversations/{conv}", headers=hdr).status_code == 200
    worker.scheduled()
    assert httpx.get(f"{worker.url}/admin/conversations/{conv}", headers=hdr).status_code == 404


def test_retrieval_follows_the_config_and_reaches_streams_and_documents(worker, admin_key, make_key, upstream):
    key, _ = make_key()
    c = openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0, timeout=60)
    auth = {"Authorization": f"Bearer {key}"}
    for text in ["Project Heron ships on the ninth of March", "Project Heron's mascot is a grey bird", "Project Heron uses Rust"]:
        assert httpx.post(f"{worker.url}/api/memories", headers=auth, json={"content": text}).status_code == 200
    doc = httpx.post(f"{worker.url}/api/documents", headers=auth,
                     json={"title": "heron handbook", "text": "Heron handbook.\n\nThe Heron launch window opens at 04:40 UTC."})
    assert doc.status_code == 201, doc.text
    hdr = {"Authorization": f"Bearer {admin_key}"}
    original = httpx.get(f"{worker.url}/admin/config", headers=hdr).json()
    original = {"rag": original["rag"], "system_prompt": original["system_prompt"]}
    ask = [{"role": "user", "content": "When does the Heron launch window open?"}]

    def sources(**kw):
        raw = c.chat.completions.with_raw_response.create(model="m", messages=ask, **kw)
        return [s for s in raw.headers["x-memgate-sources"].split(",") if s]

    def configure(**patch):
        assert httpx.put(f"{worker.url}/admin/config", headers=hdr, json=patch).status_code == 200
        time.sleep(0.1)

    try:
        configure(rag={"enabled": True, "top_k": 5, "min_score": 0.0}, system_prompt="You are Testy, the handbook bot.")
        got = sources()
        assert 1 < len(got) <= 5
        system = upstream.requests[-1]["body"]["messages"][0]["content"]
        assert system.startswith("You are Testy") and "04:40 UTC" in system, "the document chunk is in the context"
        # Streamed answers carry their sources in the response headers too.
        with httpx.stream("POST", f"{worker.url}/v1/chat/completions", headers=auth, json={"messages": ask, "stream": True}) as r:
            assert [s for s in r.headers["x-memgate-sources"].split(",") if s] == got
            r.read()
        configure(rag={"enabled": True, "top_k": 1, "min_score": 0.0})
        assert len(sources()) == 1
        configure(rag={"enabled": True, "top_k": 5, "min_score": 0.999})
        assert sources() == []
        configure(rag={"enabled": False, "top_k": 5, "min_score": 0.0})
        assert sources() == [] and "04:40" not in json.dumps(upstream.requests[-1]["body"])
    finally:
        configure(**original)
