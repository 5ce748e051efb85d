"""Runs the built Worker in workerd (`wrangler dev`) with a throwaway state, and scripted
HTTP servers on loopback that stand in for services outside the project."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "node_modules" / ".bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env.update(CI="1", WRANGLER_SEND_METRICS="false", MEMGATE_SKIP_BUILD="1", NO_COLOR="1")
    return env


class Worker:
    """One memgate in workerd: fresh D1 (migrated), KV and R2 under a temp dir."""

    def __init__(self, name: str = "memgate", vars: dict | None = None, configs: list[str] | None = None,
                 env: str = "local"):
        self.name = name
        self.env = env
        self.vars = vars or {}
        self.configs = configs or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = Path(tempfile.mkdtemp(prefix=f"{name}-state-"))
        self.log_path = self.state.parent / f"{self.state.name}.log"
        self.proc: subprocess.Popen | None = None

    def _config_args(self) -> list[str]:
        args = ["-c", str(ROOT / "wrangler.toml")]
        for c in self.configs:
            args += ["-c", str(ROOT / c)]
        return args

    def start(self, timeout: float = 90.0) -> "Worker":
        if not (ROOT / "build" / "worker" / "shim.mjs").exists():
            subprocess.run(["bash", str(ROOT / "scripts" / "build.sh")], check=True, env={**tool_env(), "MEMGATE_SKIP_BUILD": ""})
        env = tool_env()
        migrated = subprocess.run(
            ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--env", self.env,
             "-c", str(ROOT / "wrangler.toml"), "--persist-to", str(self.state)],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{migrated.stdout[-3000:]}\n{migrated.stderr[-3000:]}")
        cmd = ["wrangler", "dev", *self._config_args(), "--env", self.env, "--ip", "127.0.0.1",
               "--port", str(self.port), "--inspector-port", str(free_port()),
               "--persist-to", str(self.state), "--test-scheduled", "--log-level", "info",
               "--show-interactive-dev-session=false"]
        for k, v in self.vars.items():
            cmd += ["--var", f"{k}:{v}"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        spawned = time.time()
        deadline = spawned + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited early:\n{self.logs()}")
            try:
                t = time.perf_counter()
                r = httpx.get(f"{self.url}/api/health", timeout=2)
                if r.status_code == 200:
                    # Cold start figures for bench/: spawn to first answer, and that answer's latency.
                    self.ready_s = time.time() - spawned
                    self.first_answer_ms = (time.perf_counter() - t) * 1000
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"memgate did not become ready in {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def d1(self, sql: str) -> None:
        """Runs SQL on this Worker's local D1 behind its back: how a test makes time pass or
        leaves the state a crash would have left."""
        r = subprocess.run(["wrangler", "d1", "execute", "DB", "--local", "--env", self.env, "-c", str(ROOT / "wrangler.toml"),
                            "--persist-to", str(self.state), "--command", sql],
                           cwd=ROOT, env=tool_env(), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]

    def scheduled(self) -> None:
        """Runs the cron handler once, as Cloudflare's scheduler would."""
        r = httpx.get(f"{self.url}/__scheduled?cron=*/10+*+*+*+*", timeout=60)
        assert r.status_code == 200, r.text

    def kill(self) -> None:
        """Kills the runtime at once (SIGKILL), keeping its state, as a crash would."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None
        shutil.rmtree(self.state, ignore_errors=True)
        try:
            self.log.close()
            if not os.environ.get("MEMGATE_KEEP_LOGS"):
                self.log_path.unlink()
        except (AttributeError, OSError):
            pass


class QuietHTTPServer(ThreadingHTTPServer):
    """A client (the Worker) closing a keep-alive connection is normal, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """A loopback HTTP server whose answers a test scripts: `handler(method, path, headers,
    body) -> (status, headers, body | iterator of chunks)`. Records every request."""

    def __init__(self, handler):
        self.handler = handler
        self.requests: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Without TCP_NODELAY, small writes stall ~40 ms (see BENCHMARKS.md).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                req = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                outer.requests.append(req)
                status, headers, payload = outer.handler(req)
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if isinstance(payload, (bytes, str, dict, list)):
                    data = payload if isinstance(payload, bytes) else (
                        payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
                    if isinstance(payload, (dict, list)) and not headers:
                        self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for chunk in payload:
                        data = chunk.encode() if isinstance(chunk, str) else chunk
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()

            def _safe(self):
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client left mid-stream, as some tests and the bench do on purpose

            do_GET = do_POST = do_PUT = do_DELETE = _safe

        self.server = QuietHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
