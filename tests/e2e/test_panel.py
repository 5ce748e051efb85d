"""The browser admin panel (public/) driven by Selenium in headless Chromium against a fresh
memgate in workerd: first-run setup, sign-in, keys, memories, documents, live activity,
settings and conversations. Screenshots of every page land in target/screenshots/.

The tests share one Worker and one browser (module scope) and run in file order: setup
first, then the pages. Steps whose endpoint the Worker does not serve yet (404) are skipped.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ADMIN_PASSWORD
from harness import ROOT, ScriptedServer, Worker

SHOTS = ROOT / "target" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20
UPSTREAM_MODEL = "panel-upstream-model"
UPSTREAM_SECRET = "upstream-secret-123"


class Panel:
    """The shared state of the module: the Worker, the admin key from setup."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.url = worker.url
        self.api_key: str | None = None

    def client(self, key: str | None = None) -> httpx.Client:
        key = key or self.admin_key()
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def admin_key(self) -> str:
        if self.api_key is None:
            status = httpx.get(f"{self.url}/admin/status", timeout=10).json()
            assert not status["initialized"], "memgate was initialised but the admin key from setup is lost"
            r = httpx.post(f"{self.url}/admin/init", json={"admin_password": ADMIN_PASSWORD}, timeout=30)
            assert r.status_code == 201, r.text
            self.api_key = r.json()["api_key"]
        return self.api_key

    def endpoint_exists(self, method: str, path: str, **kw) -> bool:
        """False only when the Worker has no such route (404)."""
        with self.client() as c:
            if path.endswith("/events"):
                with c.stream(method, path, timeout=10) as r:
                    return r.status_code != 404
            return c.request(method, path, **kw).status_code != 404


@pytest.fixture(scope="module")
def panel():
    w = Worker(name="panel").start()
    try:
        yield Panel(w)
    finally:
        w.stop()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="panel-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", f"--user-data-dir={profile}"]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def upstream():
    """An OpenAI-compatible chat upstream on loopback that echoes the last user message."""

    def handler(req):
        body = req["body"] if isinstance(req["body"], dict) else {}
        if not req["path"].endswith("/chat/completions"):
            return 404, None, {"error": {"message": "no such route"}}
        if req["headers"].get("Authorization", req["headers"].get("authorization")) != f"Bearer {UPSTREAM_SECRET}":
            return 401, None, {"error": {"message": "wrong upstream key"}}
        last = next((m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        return 200, None, {
            "id": "up-1", "object": "chat.completion", "created": 1, "model": UPSTREAM_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"echo: {last}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 45, "total_tokens": 165},
        }

    s = ScriptedServer(handler)
    yield s
    s.stop()


# ------------------------------------------------------------------------------- helpers

def wait(driver, timeout: float = WAIT) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))


def find(driver, css: str):
    return wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def by_id(driver, id_: str):
    return find(driver, f"#{id_}")


def type_into(el, text: str) -> None:
    el.clear()
    el.send_keys(text)


def text_appears(driver, css: str, text: str, timeout: float = WAIT):
    """Waits until an element matching css contains text; returns that element."""

    def check(d):
        for el in d.find_elements(By.CSS_SELECTOR, css):
            if text in el.text:
                return el
        return False

    return wait(driver, timeout).until(check, f"no {css} containing {text!r}")


def shot(driver, name: str, full_page: bool = True) -> Path:
    """A screenshot of the whole page (beyond the viewport) into target/screenshots."""
    path = SHOTS / f"{name}.png"
    # Toasts are transient; keep them out of the picture. Then let transitions settle.
    driver.execute_script("document.getElementById('toasts').replaceChildren()")
    time.sleep(0.25)
    if full_page:
        try:
            metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            width = driver.execute_script("return document.documentElement.clientWidth")
            data = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": max(size["height"], 200), "scale": 1},
            })["data"]
            path.write_bytes(base64.b64decode(data))
            return path
        except WebDriverException:
            pass
    driver.save_screenshot(str(path))
    return path


def go(driver, route: str):
    driver.find_element(By.ID, f"nav-{route}").click()
    return by_id(driver, f"page-{route}")


def no_secrets_in_storage(driver) -> None:
    stored = driver.execute_script(
        "const o = {}; for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) o[s.key(i)] = s.getItem(s.key(i)); return o;")
    assert stored == {}, f"the panel must not keep anything in web storage: {stored}"


def confirm(driver) -> None:
    ok = find(driver, "#confirm-dialog[open] #confirm-ok")
    ok.click()
    wait(driver).until(lambda d: not d.find_element(By.ID, "confirm-dialog").get_attribute("open"))


def sign_in(driver, panel: Panel, route: str = "dashboard") -> None:
    """Opens the panel on a route, signing in if the session is gone."""
    panel.admin_key()
    driver.get(f"{panel.url}/#/{route}")
    wait(driver).until(lambda d: d.find_elements(By.ID, "page-login") or d.find_elements(By.ID, f"page-{route}"))
    if driver.find_elements(By.ID, "page-login"):
        type_into(by_id(driver, "login-password"), ADMIN_PASSWORD)
        by_id(driver, "login-submit").click()
    by_id(driver, f"page-{route}")


def unavailable(driver, box_id: str) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, f"#{box_id}[data-testid=unavailable]"))


# ------------------------------------------------------------------------------- tests

def test_first_run_setup_shows_the_key_once(panel, browser):
    d = browser
    d.get(panel.url + "/")
    by_id(d, "setup-form")
    assert d.find_element(By.ID, "app").get_attribute("data-state") == "setup"
    assert not d.find_element(By.ID, "sidebar").is_displayed()

    # Validation in the page: too short, then not matching.
    type_into(by_id(d, "setup-password"), "short")
    type_into(by_id(d, "setup-confirm"), "short")
    by_id(d, "setup-submit").click()
    assert "at least 8 characters" in by_id(d, "setup-error").text
    type_into(by_id(d, "setup-password"), ADMIN_PASSWORD)
    type_into(by_id(d, "setup-confirm"), ADMIN_PASSWORD + "x")
    by_id(d, "setup-submit").click()
    text_appears(d, "#setup-error", "do not match")

    # Optional sections: a public model name and the built-in hashing embedder.
    type_into(by_id(d, "setup-confirm"), ADMIN_PASSWORD)
    d.find_element(By.CSS_SELECTOR, "#setup-embeddings > summary").click()
    Select(by_id(d, "setup-emb-provider")).select_by_value("hashing")
    d.find_element(By.CSS_SELECTOR, "#setup-gateway > summary").click()
    type_into(by_id(d, "setup-public-model-name"), "memgate-panel")
    shot(d, "setup")
    by_id(d, "setup-submit").click()

    key = by_id(d, "setup-key-value").text.strip()
    assert key.startswith("sk-") and len(key) > 20
    assert by_id(d, "setup-key-copy").is_displayed()
    assert "shown only once" in d.find_element(By.ID, "setup-key").text
    shot(d, "setup_key")
    panel.api_key = key
    no_secrets_in_storage(d)

    # The key works, and init applied the optional settings.
    with panel.client(key) as c:
        assert c.get("/api/memories").status_code == 200
        cfg = c.get("/admin/config")
        if cfg.status_code != 404:
            assert cfg.json()["public_model_name"] == "memgate-panel"
            assert cfg.json()["embeddings"]["provider"] == "hashing"

    by_id(d, "setup-continue").click()
    by_id(d, "login-form")
    assert key not in d.page_source
    # Once only: a reload goes to sign-in, never back to the key.
    d.refresh()
    by_id(d, "login-form")
    assert key not in d.page_source
    assert not d.find_elements(By.ID, "setup-form")


def test_sign_in_wrong_then_right_password(panel, browser):
    d = browser
    panel.admin_key()
    d.get(panel.url + "/#/dashboard")
    by_id(d, "login-form")
    type_into(by_id(d, "login-password"), "definitely not it")
    by_id(d, "login-submit").click()
    err = text_appears(d, "#login-error", "Wrong password")
    assert err.get_attribute("data-testid") == "error"
    assert not d.find_elements(By.ID, "page-dashboard")
    shot(d, "signin")

    type_into(by_id(d, "login-password"), ADMIN_PASSWORD)
    by_id(d, "login-submit").click()
    by_id(d, "page-dashboard")
    assert d.find_element(By.ID, "app").get_attribute("data-state") == "ready"
    assert d.find_element(By.ID, "nav-dashboard").get_attribute("aria-current") == "page"
    # The session is an HttpOnly cookie: the page cannot read it, and keeps no secrets.
    assert "memgate_session" not in d.execute_script("return document.cookie")
    assert any(c["name"] == "memgate_session" and c["httpOnly"] for c in d.get_cookies())
    no_secrets_in_storage(d)
    # A reload keeps the session.
    d.refresh()
    by_id(d, "page-dashboard")


def test_create_key_shows_it_once_and_lists_the_prefix(panel, browser):
    d = browser
    sign_in(d, panel, "keys")
    find(d, "#key-list .key-item")  # the admin key from setup
    name = f"panel-bot-{uuid.uuid4().hex[:6]}"
    type_into(by_id(d, "key-name"), name)
    type_into(by_id(d, "key-owner"), "panel-bot")
    by_id(d, "key-scope-memory-write").click()  # read-only key: chat + memory:read
    type_into(by_id(d, "key-rpm"), "60")
    by_id(d, "key-create-submit").click()

    key = by_id(d, "key-once-value").text.strip()
    assert key.startswith("sk-")
    assert "shown only once" in d.find_element(By.ID, "key-once").text
    item = text_appears(d, "#key-list .key-item", name)
    prefix = item.find_element(By.CSS_SELECTOR, ".key-prefix").text.rstrip("…")
    assert prefix and key.startswith(prefix) and len(prefix) < len(key)
    assert key not in d.find_element(By.ID, "key-list").text
    assert "panel-bot" in item.text and "60 req/min" in item.text
    shot(d, "keys")
    no_secrets_in_storage(d)

    with panel.client(key) as c:
        assert c.get("/api/memories").status_code == 200
        assert c.post("/api/memories", json={"content": "read-only keys cannot write"}).status_code == 403
    listed = {k["name"]: k for k in panel.client().get("/admin/keys").json()["keys"]}
    assert listed[name]["owner"] == "panel-bot" and set(listed[name]["scopes"]) == {"chat", "memory:read"}

    # Shown once: dismissed, and gone after a reload.
    by_id(d, "key-once-dismiss").click()
    wait(d).until(lambda x: not x.find_elements(By.ID, "key-once"))
    d.refresh()
    text_appears(d, "#key-list .key-item", name)
    assert key not in d.page_source

    # Revoke, after confirming.
    item = text_appears(d, "#key-list .key-item", name)
    item.find_element(By.CSS_SELECTOR, ".key-revoke").click()
    confirm(d)
    wait(d).until(lambda x: name not in x.find_element(By.ID, "key-list").text)
    with panel.client(key) as c:
        assert c.get("/api/memories").status_code == 401


def test_add_find_edit_and_delete_memories(panel, browser):
    d = browser
    sign_in(d, panel, "memories")
    content = f"The lighthouse keeper's cat is called Biscuit and likes sardines ({uuid.uuid4().hex[:8]})"
    type_into(by_id(d, "memory-content"), content)
    type_into(by_id(d, "memory-tags"), "panel, pets")
    type_into(by_id(d, "memory-type"), "fact")
    by_id(d, "memory-add-submit").click()
    card = text_appears(d, "#memory-list .memory-item", content)
    chips = [c.text for c in card.find_elements(By.CSS_SELECTOR, ".memory-tags .chip")]
    assert chips == ["panel", "pets"]
    assert "fact" in card.text
    assert by_id(d, "memory-content").get_attribute("value") == ""

    # Untrusted content is rendered as text, never as markup.
    hostile = f"<img src=x onerror=\"document.title='pwned'\"><b>bold?</b> {uuid.uuid4().hex[:6]}"
    type_into(by_id(d, "memory-content"), hostile)
    by_id(d, "memory-add-submit").click()
    text_appears(d, "#memory-list .memory-item", hostile)
    assert not d.find_elements(By.CSS_SELECTOR, "#memory-list img, #memory-list b")
    assert d.title != "pwned"

    # The same content again is a duplicate, and the page says so.
    type_into(by_id(d, "memory-content"), content)
    by_id(d, "memory-add-submit").click()
    dup = text_appears(d, "#memory-add-result", "Already stored")
    assert dup.get_attribute("data-testid") == "duplicate"

    # Tag filter (when /api/tags answers).
    tag_filter = by_id(d, "memory-tag-filter")
    wait(d).until(lambda x: len(Select(tag_filter).options) > 1 or not tag_filter.is_enabled())
    if tag_filter.is_enabled():
        Select(tag_filter).select_by_value("pets")
        wait(d).until(lambda x: "tagged “pets”" in by_id(x, "memory-summary").text)
        texts = [m.text for m in d.find_elements(By.CSS_SELECTOR, "#memory-list .memory-item")]
        assert len(texts) == 1 and content in texts[0]
        Select(by_id(d, "memory-tag-filter")).select_by_value("")
        text_appears(d, "#memory-list .memory-item", hostile)

    # Search (when /api/search answers).
    type_into(by_id(d, "memory-search-input"), "what is the lighthouse keeper's cat called?")
    by_id(d, "memory-search-submit").click()
    wait(d).until(lambda x: "result" in by_id(x, "memory-summary").text or unavailable(x, "memories-error"))
    if not unavailable(d, "memories-error"):
        first = find(d, "#memory-list .memory-item")
        assert content in first.text
        assert first.find_elements(By.CSS_SELECTOR, ".memory-score")
    shot(d, "memories")
    by_id(d, "memory-search-clear").click()
    wait(d).until(lambda x: "result" not in by_id(x, "memory-summary").text)

    # Edit tags.
    card = text_appears(d, "#memory-list .memory-item", content)
    card.find_element(By.CSS_SELECTOR, ".memory-edit-tags").click()
    tags_input = card.find_element(By.CSS_SELECTOR, ".memory-tags-input")
    type_into(tags_input, "panel, pets, edited")
    card.find_element(By.CSS_SELECTOR, ".memory-tags-save").click()
    wait(d).until(lambda x: "edited" in [c.text for c in card.find_elements(By.CSS_SELECTOR, ".memory-tags .chip")])
    content_hash = card.get_attribute("data-hash")
    with panel.client() as c:
        assert c.get(f"/api/memories/{content_hash}").json()["tags"] == ["panel", "pets", "edited"]

    # Delete, after confirming (cancel first: nothing happens).
    card = text_appears(d, "#memory-list .memory-item", hostile)
    hostile_hash = card.get_attribute("data-hash")
    card.find_element(By.CSS_SELECTOR, ".memory-delete").click()
    find(d, "#confirm-dialog[open] #confirm-cancel").click()
    wait(d).until(lambda x: not x.find_element(By.ID, "confirm-dialog").get_attribute("open"))
    with panel.client() as c:
        assert c.get(f"/api/memories/{hostile_hash}").status_code == 200
    text_appears(d, "#memory-list .memory-item", hostile).find_element(By.CSS_SELECTOR, ".memory-delete").click()
    confirm(d)
    wait(d).until(lambda x: not x.find_elements(By.CSS_SELECTOR, f"#memory-list .memory-item[data-hash='{hostile_hash}']"))
    with panel.client() as c:
        assert c.get(f"/api/memories/{hostile_hash}").status_code == 404


def test_upload_a_document_with_progress(panel, browser, tmp_path):
    d = browser
    sign_in(d, panel, "documents")
    if not panel.endpoint_exists("GET", "/api/documents"):
        find(d, "#documents-error[data-testid=unavailable]")
        shot(d, "documents")
        pytest.skip("/api/documents answers 404 on this Worker")
    doc = tmp_path / "panel-field-notes.txt"
    marker = uuid.uuid4().hex[:8]
    doc.write_text("Field notes from the panel test.\n\n"
                   f"The observatory on the hill opens at dusk; the code word is periwinkle-{marker}.\n\n"
                   "Bring a red torch: white light spoils night vision.\n")
    d.find_element(By.ID, "doc-file").send_keys(str(doc))
    wait(d).until(lambda x: "panel-field-notes.txt" in by_id(x, "doc-file-name").text)
    type_into(by_id(d, "doc-tags"), "notes, astronomy")
    by_id(d, "doc-upload-submit").click()

    text_appears(d, "#doc-upload-status", "Stored", timeout=60)
    progress = d.find_element(By.ID, "doc-progress")
    assert progress.is_displayed() and progress.get_attribute("value") == "100"
    item = text_appears(d, "#document-list .document-item", "panel-field-notes.txt")
    assert "chunk" in item.text
    assert [c.text for c in item.find_elements(By.CSS_SELECTOR, ".chip")] == ["notes", "astronomy"]
    shot(d, "documents")

    # Its chunks are memories: search finds them.
    with panel.client() as c:
        docs = c.get("/api/documents").json()["documents"]
        assert any(x["filename"] == "panel-field-notes.txt" for x in docs)
        found = c.post("/api/search", json={"query": f"observatory code word periwinkle-{marker}", "n_results": 5})
        if found.status_code != 404:
            assert any(marker in r["memory"]["content"] for r in found.json()["results"])

    # Delete it again, after confirming.
    item.find_element(By.CSS_SELECTOR, ".document-delete").click()
    confirm(d)
    wait(d).until(lambda x: "panel-field-notes.txt" not in by_id(x, "document-list").text)

    # A wrong file type is refused with the server's message.
    bad = tmp_path / "image.bin"
    bad.write_bytes(bytes(range(256)) * 4)
    d.find_element(By.ID, "doc-file").send_keys(str(bad))
    by_id(d, "doc-upload-submit").click()
    err = find(d, "#doc-upload-error[data-testid=error]")
    assert err.text.strip()


def test_memory_added_through_the_api_appears_live(panel, browser):
    d = browser
    sign_in(d, panel, "dashboard")
    if not panel.endpoint_exists("GET", "/api/events"):
        find(d, "#live-indicator[data-state=unavailable]")
        pytest.skip("/api/events answers 404 on this Worker")
    find(d, "#live-indicator[data-state=live]")
    wait(d).until(lambda x: by_id(x, "stat-total").text not in ("", "—"))
    before = int(by_id(d, "stat-total").text.replace(",", ""))
    d.execute_script("window.__panelMarker = 'same page'")

    content = f"Live from the API: the tide turns at 4:12 ({uuid.uuid4().hex[:8]})"
    with panel.client() as c:
        r = c.post("/api/memories", json={"content": content, "tags": ["live", "api"], "memory_type": "note"})
        assert r.status_code == 200 and r.json()["success"], r.text
    item = text_appears(d, "#activity .activity-item", content[:100], timeout=15)
    assert item.get_attribute("data-event") == "memory_stored"
    first = d.find_element(By.CSS_SELECTOR, "#activity .activity-item")
    assert content[:100] in first.text, "new activity goes to the top"
    assert d.execute_script("return window.__panelMarker") == "same page", "the page must update without reloading"
    # The statistics follow.
    wait(d).until(lambda x: by_id(x, "stat-total").text.replace(",", "") == str(before + 1))

    # Searches and deletions show up as well.
    with panel.client() as c:
        c.post("/api/search", json={"query": "when does the tide turn", "n_results": 3})
        c.delete(f"/api/memories/{r.json()['content_hash']}")
    text_appears(d, "#activity .activity-item[data-event=search_completed]", "when does the tide turn", timeout=15)
    find(d, "#activity .activity-item[data-event=memory_deleted]")


def test_settings_save_and_show_server_errors(panel, browser, upstream):
    d = browser
    sign_in(d, panel, "settings")
    if not panel.endpoint_exists("GET", "/admin/config"):
        find(d, "#settings-load-error[data-testid=unavailable]")
        shot(d, "settings")
        pytest.skip("/admin/config answers 404 on this Worker")
    by_id(d, "settings-form")
    assert by_id(d, "cfg-public-model-name").get_attribute("value") == "memgate-panel"

    # Point the gateway at the scripted upstream, with a secret.
    Select(by_id(d, "cfg-chat-provider")).select_by_value("openai")
    type_into(by_id(d, "cfg-chat-base-url"), upstream.url + "/v1")
    type_into(by_id(d, "cfg-chat-api-key"), UPSTREAM_SECRET)
    type_into(by_id(d, "cfg-chat-model"), UPSTREAM_MODEL)
    type_into(by_id(d, "cfg-system-prompt"), "You are the panel test's assistant.")
    type_into(by_id(d, "cfg-rag-top-k"), "7")
    by_id(d, "settings-save").click()
    find(d, "#settings-saved")
    assert by_id(d, "cfg-chat-api-key").get_attribute("value") == "********"
    assert UPSTREAM_SECRET not in d.page_source
    with panel.client() as c:
        cfg = c.get("/admin/config").json()
    assert cfg["chat"] == {"provider": "openai", "base_url": upstream.url + "/v1", "api_key": "********", "model": UPSTREAM_MODEL}
    assert cfg["system_prompt"] == "You are the panel test's assistant." and cfg["rag"]["top_k"] == 7

    # Saving again with the redacted secret keeps it: the gateway still authenticates upstream.
    type_into(by_id(d, "cfg-public-model-name"), "memgate-panel")
    by_id(d, "settings-save").click()
    find(d, "#settings-saved")

    # An invalid value: the server's detail appears next to the form, nothing is saved.
    type_into(by_id(d, "cfg-rag-top-k"), "99")
    by_id(d, "settings-save").click()
    err = find(d, "#settings-error[data-testid=error]")
    assert "top_k" in err.text
    with panel.client() as c:
        assert c.get("/admin/config").json()["rag"]["top_k"] == 7
    type_into(by_id(d, "cfg-rag-top-k"), "7")
    d.execute_script("window.scrollTo(0, 0)")
    shot(d, "settings")


def test_conversations_list_and_detail(panel, browser, upstream):
    d = browser
    if not panel.endpoint_exists("GET", "/admin/conversations"):
        sign_in(d, panel, "conversations")
        find(d, "#conversations-error[data-testid=unavailable]")
        shot(d, "conversations")
        pytest.skip("/admin/conversations answers 404 on this Worker")
    conv = f"panel-{uuid.uuid4().hex[:8]}"
    with panel.client() as c:
        cfg = c.get("/admin/config")
        if cfg.status_code == 200 and cfg.json()["chat"].get("base_url") != upstream.url + "/v1":
            c.put("/admin/config", json={"chat": {"provider": "openai", "base_url": upstream.url + "/v1",
                                                 "api_key": UPSTREAM_SECRET, "model": UPSTREAM_MODEL}})
        for q in ["Plan a night walk to the observatory", "What should I bring?"]:
            r = c.post("/v1/chat/completions", json={"model": "memgate-panel", "messages": [{"role": "user", "content": q}]},
                       headers={"X-Conversation-Id": conv, "X-Memgate-Rag": "off"})
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == f"echo: {q}"

    sign_in(d, panel, "conversations")
    item = find(d, f"#conversation-list .conversation-item[data-id='{conv}']")
    assert "admin" in item.text and "4 messages" in item.text
    item.find_element(By.TAG_NAME, "button").click()
    text_appears(d, "#conversation-detail .message[data-role=assistant]", "echo: What should I bring?")
    roles = [m.get_attribute("data-role") for m in d.find_elements(By.CSS_SELECTOR, "#conversation-detail .message")]
    assert roles == ["user", "assistant", "user", "assistant"]
    shot(d, "conversations")

    # Owner filter.
    type_into(by_id(d, "conv-owner-filter"), "nobody-here")
    by_id(d, "conv-filter-submit").click()
    text_appears(d, "#conversation-list", "No conversations")
    type_into(by_id(d, "conv-owner-filter"), "admin")
    by_id(d, "conv-filter-submit").click()
    find(d, f"#conversation-list .conversation-item[data-id='{conv}']")


def test_dashboard_usage_chart_and_phone_layout(panel, browser):
    d = browser
    sign_in(d, panel, "dashboard")
    chart_or_missing = wait(d).until(
        lambda x: x.find_elements(By.CSS_SELECTOR, "#usage-chart svg") or x.find_elements(By.CSS_SELECTOR, "#usage-error[data-testid=unavailable]"))
    if chart_or_missing[0].tag_name == "svg":
        bars = d.find_elements(By.CSS_SELECTOR, "#usage-chart .bar")
        assert len(bars) == 14
        usage = panel.client().get("/admin/usage", params={"days": 14}).json()["usage"]
        if usage:
            assert "token" in by_id(d, "usage-summary").text
            today = max(u["day"] for u in usage)
            bar = d.find_element(By.CSS_SELECTOR, f"#usage-chart .bar[data-day='{today}'] .bar-prompt")
            assert float(bar.get_attribute("height")) > 0
    wait(d).until(lambda x: by_id(x, "stat-total").text not in ("", "—") or unavailable(x, "stats-error"))
    wait(d).until(lambda x: not x.find_elements(By.CSS_SELECTOR, "#recent-memories .loading"))
    shot(d, "dashboard")

    # Phone-sized: the layout collapses to one column with a scrolling nav bar.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        d.refresh()
        by_id(d, "page-dashboard")
        wait(d).until(lambda x: by_id(x, "stat-total").text not in ("", "—") or unavailable(x, "stats-error"))
        wait(d).until(lambda x: not x.find_elements(By.CSS_SELECTOR, "#recent-memories .loading"))
        overflow = d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page scrolls sideways on a phone by {overflow}px"
        shot(d, "dashboard_phone", full_page=False)
        go(d, "memories")
        find(d, "#memory-list .memory-item")
        overflow = d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the memories page scrolls sideways on a phone by {overflow}px"
        shot(d, "memories_phone", full_page=False)
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_sign_out_and_expired_session(panel, browser):
    d = browser
    sign_in(d, panel, "keys")
    by_id(d, "logout-button").click()
    by_id(d, "login-form")
    assert "signed out" in by_id(d, "login-notice").text
    assert not [c for c in d.get_cookies() if c["name"] == "memgate_session"]
    # After sign-out, any page goes to sign-in.
    d.get(panel.url + "/#/memories")
    by_id(d, "login-form")
    # A session that ends while the page is open (401) sends the user back to sign-in.
    sign_in(d, panel, "memories")
    d.delete_cookie("memgate_session")
    d.find_element(By.ID, "nav-keys").click()
    by_id(d, "login-form")
    assert "Sign in again" in by_id(d, "login-notice").text


MISSING_ENDPOINTS = r"""
(() => {
  // Makes the page see a Worker without the newer endpoints: they answer 404 as memgate does.
  const missing = /^\/(api\/(stats|tags|search|events|documents)|admin\/(usage|config|conversations))(\/|$)/;
  const isMissing = (u) => missing.test(new URL(u, location.href).pathname);
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (!isMissing(url)) return realFetch(input, init);
    const path = new URL(url, location.href).pathname;
    return Promise.resolve(new Response(JSON.stringify({detail: `no route for ${path}`}),
      {status: 404, headers: {'content-type': 'application/json'}}));
  };
  const RealES = window.EventSource;
  window.EventSource = class extends RealES {
    constructor(url, opts) { super(isMissing(url) ? '/api/no-such-stream' : url, opts); }
  };
  const realOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    return realOpen.call(this, method, isMissing(url) ? '/api/no-such-upload' : url, ...rest);
  };
})();
"""


def js_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and e.get("source") != "network"]


def test_missing_endpoints_degrade_gracefully(panel, browser):
    d = browser
    sign_in(d, panel, "dashboard")
    js_errors(d)  # drain
    script = d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MISSING_ENDPOINTS})["identifier"]
    try:
        d.refresh()
        by_id(d, "page-dashboard")
        find(d, "#stats-error[data-testid=unavailable]")
        assert "not available" in find(d, "#usage-error[data-testid=unavailable]").text
        find(d, "#live-indicator[data-state=unavailable]")
        find(d, "#recent-memories .recent-item")  # what exists still works

        go(d, "memories")
        find(d, "#memory-list .memory-item")
        wait(d).until(lambda x: not by_id(x, "memory-tag-filter").is_enabled())
        type_into(by_id(d, "memory-search-input"), "lighthouse")
        by_id(d, "memory-search-submit").click()
        find(d, "#memories-error[data-testid=unavailable]")

        go(d, "documents")
        find(d, "#documents-error[data-testid=unavailable]")
        go(d, "settings")
        find(d, "#settings-load-error[data-testid=unavailable]")
        go(d, "conversations")
        find(d, "#conversations-error[data-testid=unavailable]")
        go(d, "keys")
        find(d, "#key-list .key-item")
        assert js_errors(d) == []
    finally:
        d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script})
    d.refresh()
    by_id(d, "page-keys")


def test_too_many_sign_in_attempts(panel, browser):
    """Last: it locks sign-in from this address for the rest of the rate window."""
    d = browser
    sign_in(d, panel, "dashboard")
    by_id(d, "logout-button").click()
    by_id(d, "login-form")
    for _ in range(15):
        type_into(by_id(d, "login-password"), "wrong again")
        by_id(d, "login-submit").click()
        err = wait(d).until(lambda x: (e := x.find_element(By.ID, "login-error")).is_displayed() and e.text and e)
        if "Too many" in err.text:
            break
        wait(d).until(lambda x: by_id(x, "login-submit").is_enabled())
        d.execute_script("document.getElementById('login-error').hidden = true")
    assert "Too many sign-in attempts" in err.text and "seconds" in err.text
    submit = by_id(d, "login-submit")
    assert not submit.is_enabled() and "Wait" in submit.text
    assert js_errors(d) == []
