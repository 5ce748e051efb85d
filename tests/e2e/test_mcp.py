"""`/mcp` driven by the official MCP Python SDK (Streamable HTTP): the same memory as the
REST API, scopes, and protocol errors."""

import asyncio
import json

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def run(coro):
    return asyncio.run(coro)


async def with_session(url, key, fn):
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with client:
        async with streamable_http_client(f"{url}/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                return await fn(session, init)


def payload(result):
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_initialize_list_store_and_find_both_ways(worker, make_key):
    key, owner = make_key()

    async def scenario(s, init):
        assert init.server_info.name == "memgate"
        assert init.protocol_version == "2025-11-25"
        await s.send_ping()
        tools = {t.name: t for t in (await s.list_tools()).tools}
        for name in ["memory_store", "memory_search", "memory_list", "memory_delete", "memory_update", "memory_stats", "memory_health",
                     "store_memory", "retrieve_memory", "search_by_tag", "delete_memory"]:
            assert name in tools, name
        assert tools["memory_search"].annotations.read_only_hint is True
        assert tools["memory_delete"].annotations.destructive_hint is True
        assert tools["memory_store"].input_schema["required"] == ["content"]
        stored = payload(await s.call_tool("memory_store", {"content": "The office wifi is called Narwhal-5G", "tags": ["office"]}))
        h = stored["content_hash"]
        legacy = payload(await s.call_tool("store_memory", {"content": "Standup is at 9:30", "metadata": {"tags": "team,meetings", "type": "fact"}}))
        found = payload(await s.call_tool("memory_search", {"query": "what is the wifi called", "limit": 3}))
        assert found["results"][0]["memory"]["content_hash"] == h
        by_tag = payload(await s.call_tool("search_by_tag", {"tags": ["meetings"]}))
        assert [r["memory"]["content"] for r in by_tag["results"]] == ["Standup is at 9:30"]
        old = payload(await s.call_tool("retrieve_memory", {"query": "standup time", "n_results": 1}))
        assert old["results"][0]["memory"]["content_hash"] == legacy["content_hash"]
        listed = payload(await s.call_tool("memory_list", {"page_size": 10}))
        assert listed["total"] == 2
        upd = payload(await s.call_tool("memory_update", {"content_hash": h, "tags": ["office", "network"]}))
        assert upd["memory"]["tags"] == ["office", "network"]
        stats = payload(await s.call_tool("memory_stats", {}))
        assert stats["total_memories"] == 2
        assert payload(await s.call_tool("memory_health", {}))["status"] == "healthy"
        res = await s.read_resource("memory://tags")
        assert "network" in res.contents[0].text
        return h

    h = run(with_session(worker.url, key, scenario))
    # The REST API sees what MCP stored, and the other way round.
    rest = httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {key}"})
    assert rest.get(f"/api/memories/{h}").json()["tags"] == ["office", "network"]
    rest.post("/api/memories", json={"content": "Parking spot number 42 belongs to Lee", "tags": ["parking"]})

    async def find_rest_memory(s, _):
        found = payload(await s.call_tool("memory_search", {"query": "parking spot Lee"}))
        assert found["results"][0]["memory"]["content"] == "Parking spot number 42 belongs to Lee"
        dry = payload(await s.call_tool("memory_delete", {"tags": ["parking"], "dry_run": True}))
        assert dry["deleted"] == 0 and len(dry["matched"]) == 1
        gone = payload(await s.call_tool("memory_delete", {"tags": ["parking"]}))
        assert gone["deleted"] == 1
        payload(await s.call_tool("delete_memory", {"content_hash": h}))
        missing = await s.call_tool("memory_delete", {"content_hash": h})
        assert missing.is_error

    run(with_session(worker.url, key, find_rest_memory))
    assert rest.get(f"/api/memories/{h}").status_code == 404
    assert rest.get("/api/memories", params={"tag": "parking"}).json()["total"] == 0


def test_read_only_key_cannot_write(worker, make_key):
    key, _ = make_key(scopes=["memory:read"])

    async def scenario(s, _):
        r = await s.call_tool("memory_store", {"content": "should not be stored"})
        assert r.is_error and "memory:write" in r.content[0].text
        r = await s.call_tool("memory_delete", {"tags": ["x"], "dry_run": True})
        assert not r.is_error
        return payload(await s.call_tool("memory_list", {}))["total"]

    assert run(with_session(worker.url, key, scenario)) == 0


def test_bad_arguments_are_tool_errors_and_unknown_tools_protocol_errors(worker, make_key):
    key, _ = make_key()

    async def scenario(s, _):
        r = await s.call_tool("memory_store", {"content": ""})
        assert r.is_error and "content" in r.content[0].text
        r = await s.call_tool("memory_search", {"query": "x", "time_expr": "the twelfth of never"})
        assert r.is_error
        with pytest.raises(Exception) as e:
            await s.call_tool("no_such_tool", {})
        assert "unknown tool" in str(e.value).lower()

    run(with_session(worker.url, key, scenario))


def test_transport_rules(worker, make_key):
    key, _ = make_key()
    url = f"{worker.url}/mcp"
    hdr = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code == 401 and r.headers["www-authenticate"].lower().startswith("bearer")
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={**hdr, "Authorization": "Bearer sk-" + "1" * 48})
    assert r.status_code == 401
    r = httpx.post(url, content=b"{not json", headers=hdr)
    assert r.json()["error"]["code"] == -32700
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "nope"}, headers=hdr)
    assert r.json()["error"]["code"] == -32601 and r.json()["id"] == 2
    r = httpx.post(url, json={"id": 3, "method": "ping"}, headers=hdr)
    assert r.json()["error"]["code"] == -32600
    r = httpx.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=hdr)
    assert r.status_code == 202 and r.content == b""
    r = httpx.post(url, json=[{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}], headers=hdr)
    assert [x["id"] for x in r.json()] == [1, 2]
    assert httpx.get(url, headers=hdr).status_code == 405
    assert httpx.delete(url, headers=hdr).status_code == 405
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={**hdr, "Origin": "https://evil.example"})
    assert r.status_code == 403
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={**hdr, "MCP-Protocol-Version": "1999-01-01"})
    assert r.status_code == 400
