"""Faults outside the project: an upstream LLM that hangs or cuts its stream short, Workers AI
and Vectorize stand-ins that fail or are slow, R2 that cannot write or read. Each ends in a
clean error or a retry, with no memory lost, nothing half-written and usage still counted."""

import json
import shutil
import time
import uuid

import httpx
import openai
import pytest

from conftest import init_worker, key_for
from harness import Worker

BIG = 1024 * 1024 + 4096


class FaultyUpstream:
    """An OpenAI-compatible upstream that misbehaves on cue (the last user message)."""

    def __init__(self):
        self.seen = {}

    def __call__(self, req):
        body = req["body"] or {}
        text = body["messages"][-1]["content"]
        self.seen[text] = self.seen.get(text, 0) + 1
        if "hang-always" in text or ("hang-once" in text and self.seen[text] == 1):
            time.sleep(4)  # longer than the Worker's UPSTREAM_TIMEOUT_MS
        base = {"id": "up", "object": "chat.completion.chunk", "created": 1, "model": "up"}
        if body.get("stream"):
            def chunks():
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}) + "\n\n"
                if "cut-at-once" in text:
                    return  # gone before the first token
                for w in ("partial", "answer", "that"):
                    yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]}) + "\n\n"
                if "truncate" in text:
                    return  # the upstream goes away: no finish_reason, no [DONE]
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
                yield "data: [DONE]\n\n"
            return 200, {"content-type": "text/event-stream"}, chunks()
        return 200, None, {"id": "up", "object": "chat.completion", "created": 1, "model": "up",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


@pytest.fixture(scope="module")
def faulty(scripted):
    """memgate with a short upstream answer timeout, in front of a misbehaving upstream."""
    w = Worker(name="faults", vars={"UPSTREAM_TIMEOUT_MS": "1000", "R2_TIMEOUT_MS": "3000", "MAX_RETRIES": "1", "BASE_DELAY_MS": "20"}).start()
    try:
        w.admin_key = init_worker(w)
        w.faults = FaultyUpstream()
        up = scripted(w.faults)
        r = httpx.put(f"{w.url}/admin/config", headers={"Authorization": f"Bearer {w.admin_key}"},
                      json={"chat": {"provider": "openai", "base_url": up.url + "/v1", "model": "up"}})
        assert r.status_code == 200, r.text
        yield w
    finally:
        w.stop()


def usage_of(worker, owner):
    hdr = {"Authorization": f"Bearer {worker.admin_key}"}
    keys = httpx.get(f"{worker.url}/admin/keys", headers=hdr).json()["keys"]
    key_id = next(k["id"] for k in keys if k["owner"] == owner)
    deadline = time.time() + 15
    while time.time() < deadline:
        rows = [u for u in httpx.get(f"{worker.url}/admin/usage", params={"days": 1}, headers=hdr).json()["usage"] if u["key_id"] == key_id]
        if rows:
            return rows
        time.sleep(0.2)
    return []


def sdk(worker, owner):
    key = key_for(worker, worker.admin_key, owner)
    return openai.OpenAI(base_url=f"{worker.url}/v1", api_key=key, max_retries=0, timeout=60,
                         default_headers={"X-Memgate-Rag": "off"})


def test_an_upstream_that_never_answers_times_out_into_a_clean_error(faulty):
    owner = f"hang-{uuid.uuid4().hex[:6]}"
    client = sdk(faulty, owner)
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hang-always now"}])
    assert e.value.status_code == 502
    assert "no answer within" in e.value.message
    assert set(e.value.body) >= {"message", "type", "param", "code"}
    with pytest.raises(openai.APIStatusError) as e:
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hang-always streaming"}], stream=True))
    assert e.value.status_code == 502
    rows = usage_of(faulty, owner)
    assert rows and rows[0]["requests"] == 2 and rows[0]["errors"] == 2, rows
    # Both attempts (the first and its one retry) reached the upstream.
    assert faulty.faults.seen["hang-always now"] == 2


def test_a_hung_first_attempt_is_retried(faulty):
    client = sdk(faulty, f"retry-{uuid.uuid4().hex[:6]}")
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hang-once please"}])
    assert r.choices[0].message.content == "fine"
    assert faulty.faults.seen["hang-once please"] == 2


def test_a_truncated_upstream_stream_ends_in_an_error_and_is_counted(faulty):
    owner = f"cut-{uuid.uuid4().hex[:6]}"
    client = sdk(faulty, owner)
    conv = f"conv-{uuid.uuid4().hex[:8]}"
    got = []
    with pytest.raises(openai.APIError) as e:
        for c in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "truncate me"}],
                                                stream=True, extra_headers={"X-Conversation-Id": conv}):
            got += [ch.delta.content for ch in c.choices if ch.delta.content]
    assert "ended before the answer was complete" in str(e.value)
    assert "".join(got).split() == ["partial", "answer", "that"]
    rows = usage_of(faulty, owner)
    assert rows and rows[0]["errors"] == 1 and rows[0]["completion_tokens"] > 0, rows
    # The cut-off answer is not stored as if it were whole.
    r = httpx.get(f"{faulty.url}/admin/conversations/{conv}", headers={"Authorization": f"Bearer {faulty.admin_key}"})
    assert r.status_code == 404 or not any(m["role"] == "assistant" for m in r.json()["messages"]), r.text
    # The same request without the cut streams to the end.
    text = "".join(ch.delta.content or "" for c in client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "whole please"}], stream=True) for ch in c.choices)
    assert text.split() == ["partial", "answer", "that"]


def test_a_stream_cut_before_the_first_token_is_an_http_error_not_a_200(faulty):
    """memgate waits for the first token before answering, so a stream that dies before
    any is refused with a status and an OpenAI error body, as a non-streaming call is."""
    owner = f"cut0-{uuid.uuid4().hex[:6]}"
    client = sdk(faulty, owner)
    with pytest.raises(openai.APIStatusError) as e:
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "cut-at-once"}], stream=True))
    assert e.value.status_code == 502
    assert "ended before the answer was complete" in e.value.message
    assert set(e.value.body) >= {"message", "type", "param", "code"}
    rows = usage_of(faulty, owner)
    assert rows and rows[0]["errors"] == 1, rows


def r2_dir(worker):
    found = [p for p in worker.state.rglob("*") if p.is_dir() and p.name == "blobs" and "r2" in p.parts]
    assert found, f"no local R2 blob store under {worker.state}"
    return found[0]


def break_dir(path):
    """Replaces a directory by a file: every write or read inside it fails, even as root."""
    moved = path.with_name(path.name + ".saved")
    path.rename(moved)
    path.write_text("broken on purpose")
    return moved


def mend_dir(path, moved):
    path.unlink()
    moved.rename(path)


def test_r2_failures_are_clean_errors_and_write_nothing(faulty):
    key = key_for(faulty, faulty.admin_key, f"r2-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=faulty.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        stored = c.post("/api/memories", json={"content": "A" * BIG})
        assert stored.status_code == 200, stored.text
        big_hash = stored.json()["content_hash"]
        blobs = r2_dir(faulty)
        moved = break_dir(blobs)
        try:
            content = "B" * BIG
            r = c.post("/api/memories", json={"content": content})
            assert r.status_code == 503, r.text
            assert set(r.json()) == {"detail"} and "Traceback" not in r.text
            stats = c.get("/api/stats").json()
            assert stats["total_memories"] == 1, "the failed write left no row"
            assert stats["pending_cleanup"] == 1, "the object that may yet land is held for removal"
            r = c.get(f"/api/memories/{big_hash}")
            assert r.status_code == 503 and set(r.json()) == {"detail"}, r.text
        finally:
            mend_dir(blobs, moved)
        # Once R2 is back, the same write succeeds and the earlier memory reads in full.
        r = c.post("/api/memories", json={"content": content})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        assert c.get(f"/api/memories/{big_hash}").json()["content"] == "A" * BIG
        assert c.get("/api/memories", params={"page_size": 100}).json()["total"] == 2
        # R2 down during a document upload: a clean error, and neither the document, nor a
        # chunk, nor a queued file is left.
        moved = break_dir(blobs)
        try:
            r = c.post("/api/documents", json={"title": "lost notes", "text": "para one.\n\npara two."})
            assert r.status_code == 503 and set(r.json()) == {"detail"}, r.text
        finally:
            mend_dir(blobs, moved)
        assert c.get("/api/documents").json()["documents"] == []
        stats = c.get("/api/stats").json()
        assert (stats["total_memories"], stats["pending_cleanup"]) == (2, 2), stats
        # A delete removes the R2 content at once; nothing more is left for the scheduler.
        assert c.delete(f"/api/memories/{big_hash}").json()["success"] is True
        assert c.get(f"/api/memories/{big_hash}").status_code == 404
        assert c.get("/api/stats").json()["pending_cleanup"] == 2


def test_a_vector_that_cannot_be_removed_is_removed_by_the_scheduler(cloud_worker):
    key = key_for(cloud_worker, cloud_worker.admin_key, f"stuck-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        h = c.post("/api/memories", json={"content": "the tide table for tuesday"}).json()["content_hash"]
        kept = c.post("/api/memories", json={"content": "the tide table for wednesday"}).json()["content_hash"]
        r = c.delete(f"/api/memories/{h}")
        assert r.status_code == 200 and r.json()["success"] is True
        assert c.get("/api/stats").json()["pending_cleanup"] == 1, "the failed vector removal is queued"
        time.sleep(5.5)
        cloud_worker.scheduled()
        assert c.get("/api/stats").json()["pending_cleanup"] == 0
        res = c.post("/api/search", json={"query": "tide table"}).json()["results"]
        assert [x["memory"]["content_hash"] for x in res] == [kept]
        # Every vector of this owner fails its first removal: a second delete is queued too.
        assert c.delete(f"/api/memories/{kept}").status_code == 200
        assert c.get("/api/stats").json()["pending_cleanup"] == 1
    # A removal that works at once leaves nothing queued.
    key = key_for(cloud_worker, cloud_worker.admin_key, f"tidy-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        h = c.post("/api/memories", json={"content": "the tide table for thursday"}).json()["content_hash"]
        assert c.delete(f"/api/memories/{h}").status_code == 200
        assert c.get("/api/stats").json()["pending_cleanup"] == 0


def test_workers_ai_failing_through_every_retry_keeps_the_memory_for_repair(cloud_worker):
    key = key_for(cloud_worker, cloud_worker.admin_key, f"ai-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        # The stand-in fails this text's first 3 embedding calls: the store's 1 + 2 retries.
        r = c.post("/api/memories", json={"content": "ai-fail-3 the orchard grows quinces"})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        h = r.json()["content_hash"]
        assert c.get(f"/api/memories/{h}").status_code == 200
        assert c.get("/api/stats").json()["unindexed"] == 1
        time.sleep(5.5)
        cloud_worker.scheduled()
        assert c.get("/api/stats").json()["unindexed"] == 0
        res = c.post("/api/search", json={"query": "orchard quinces"}).json()["results"]
        assert res and res[0]["memory"]["content_hash"] == h and res[0]["similarity_score"] > 0.5


def test_search_and_chat_fall_back_to_keywords_when_vectors_fail(cloud_worker):
    """Vectorize queries failing for this owner, then Workers AI failing for the query text:
    search still answers from the keyword index (and says so), and chat still gets memories."""
    owner = f"noquery-{uuid.uuid4().hex[:6]}"
    key = key_for(cloud_worker, cloud_worker.admin_key, owner)
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        h = c.post("/api/memories", json={"content": "the harbour crane lifts forty containers"}).json()["content_hash"]
        c.post("/api/memories", json={"content": "a quiet library on the hill"})
        assert c.get("/api/stats").json()["unindexed"] == 0, "writes still reach the index"
        r = c.post("/api/search", json={"query": "harbour crane"})
        assert r.status_code == 200 and r.headers["x-memgate-degraded"] == "semantic-search-unavailable"
        res = r.json()["results"]
        assert [x["memory"]["content_hash"] for x in res] == [h]
        assert res[0]["relevance_reason"].startswith("keyword match") and "semantic search unavailable" in res[0]["relevance_reason"]
        # The chat's retrieval degrades the same way instead of failing the answer.
        chat = openai.OpenAI(base_url=f"{cloud_worker.url}/v1", api_key=key, max_retries=0, timeout=60)
        raw = chat.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "what does the harbour crane lift?"}])
        assert raw.headers["x-memgate-degraded"] == "semantic-search-unavailable" and raw.headers["x-memgate-sources"].split(",")[0] == h
        assert raw.parse().choices[0].message.content.startswith("stand-in reply")
    key = key_for(cloud_worker, cloud_worker.admin_key, f"embdown-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        h = c.post("/api/memories", json={"content": "the glassblower shapes a green vase"}).json()["content_hash"]
        r = c.post("/api/search", json={"query": "ai-fail-50 glassblower vase", "similarity_threshold": 0.9})
        assert r.status_code == 200 and r.headers["x-memgate-degraded"] == "semantic-search-unavailable"
        assert [x["memory"]["content_hash"] for x in r.json()["results"]] == [h], "a threshold cannot drop unmeasured hits"
        healthy = c.post("/api/search", json={"query": "glassblower vase"})
        assert "x-memgate-degraded" not in healthy.headers
        assert healthy.json()["results"][0]["relevance_reason"].startswith("semantic similarity")


def test_slow_workers_ai_and_vectorize_still_answer(cloud_worker):
    key = key_for(cloud_worker, cloud_worker.admin_key, f"slow-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=cloud_worker.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        r = c.post("/api/memories", json={"content": "ai-slow the ferry leaves at noon"})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        assert c.get("/api/stats").json()["unindexed"] == 0
        res = c.post("/api/search", json={"query": "ferry noon"}).json()["results"]
        assert res and res[0]["memory"]["content"] == "ai-slow the ferry leaves at noon"


def test_workers_ai_chat_failure_is_an_openai_error_and_counted(cloud_worker):
    owner = f"aichat-{uuid.uuid4().hex[:6]}"
    client = sdk(cloud_worker, owner)
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ai-down please"}])
    assert e.value.status_code == 502 and set(e.value.body) >= {"message", "type", "param", "code"}
    with pytest.raises(openai.APIStatusError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ai-down streaming"}], stream=True))
    rows = usage_of(cloud_worker, owner)
    assert rows and rows[0]["requests"] == 2 and rows[0]["errors"] == 2, rows
    # The provider works for other requests.
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
    assert r.choices[0].message.content.startswith("stand-in reply")
