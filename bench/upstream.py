"""A scripted OpenAI-compatible upstream for bench/: answers "hi" at once, streaming or not.
Prints its URL, serves until stdin closes. Run in its own process (see UpstreamProcess)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import ScriptedServer  # noqa: E402


class FastUpstream:
    def __call__(self, req):
        body = req["body"] or {}
        base = {"id": "u", "object": "chat.completion.chunk", "created": 1, "model": "up"}
        if body.get("stream"):
            def chunks():
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}) + "\n\n"
                yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
                yield "data: [DONE]\n\n"
            return 200, {"content-type": "text/event-stream"}, chunks()
        return 200, None, {"id": "u", "object": "chat.completion", "created": 1, "model": "up",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


if __name__ == "__main__":
    server = ScriptedServer(FastUpstream())
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
