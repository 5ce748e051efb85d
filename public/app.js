/*
 * memgate admin panel: plain JavaScript, no build step, no dependencies.
 *
 * Security notes
 *   - Every string from the server or the user is rendered with textContent / DOM
 *     properties (see `el()`), never with innerHTML.
 *   - No secret is ever written to localStorage or sessionStorage. The admin session is an
 *     HttpOnly cookie the script never sees; keys shown once live only in the page's DOM.
 *
 * Routes (hash): #/dashboard #/memories #/documents #/keys #/conversations #/settings.
 * Setup and sign-in are shown instead of any route when they apply.
 *
 * Stable element ids (singletons) and classes / data-testid (repeated items) for tests:
 *   shell        #app[data-state=loading|setup|login|ready|error], #sidebar, #nav,
 *                #nav-<route>, #logout-button, #view, #app-version, #toasts (.toast),
 *                #confirm-dialog, #confirm-message, #confirm-ok, #confirm-cancel,
 *                [data-testid=unavailable] (.unavailable) where an endpoint answers 404,
 *                [data-testid=error] (.alert-error) for other failures, #retry-button when
 *                /admin/status cannot be reached
 *   setup        #page-setup, #setup-form, #setup-password, #setup-confirm,
 *                #setup-chat-provider, #setup-chat-base-url, #setup-chat-api-key,
 *                #setup-chat-model, #setup-emb-provider, #setup-emb-base-url,
 *                #setup-emb-api-key, #setup-emb-model, #setup-public-model-name,
 *                #setup-system-prompt, #setup-submit, #setup-error,
 *                after init: #setup-key, #setup-key-value, #setup-key-copy, #setup-continue
 *   sign-in      #page-login, #login-form, #login-password, #login-submit, #login-error,
 *                #login-notice
 *   dashboard    #page-dashboard, #stat-total, #stat-tags, #stat-week, #stat-documents,
 *                #stats-error, #usage-chart (svg inside), #usage-summary, #usage-error,
 *                #activity (li.activity-item[data-event], .activity-text),
 *                #live-indicator[data-state=connecting|live|offline|unavailable],
 *                #recent-memories (li.recent-item)
 *   memories     #page-memories, #memory-add-form, #memory-content, #memory-tags,
 *                #memory-type, #memory-add-submit, #memory-add-result,
 *                [data-testid=duplicate] on #memory-add-result, #memory-add (details),
 *                #memory-search-form, #memory-search-input, #memory-search-submit,
 *                #memory-search-clear, #memory-tag-filter, #memory-summary, #memories-error,
 *                #memory-list (article.memory-item[data-hash][data-testid=memory-item],
 *                .memory-content, .memory-tags, .memory-score, button.memory-edit-tags,
 *                input.memory-tags-input, button.memory-tags-save, button.memory-delete),
 *                #memory-pager, #memory-prev, #memory-next, #memory-page-info
 *   documents    #page-documents, #doc-upload-form, #doc-file, #doc-file-name, #doc-tags,
 *                #doc-upload-submit, #doc-progress (progress, data-done when stored),
 *                #doc-upload-status, #doc-upload-error, #documents-error, #documents-count,
 *                #document-list (li.document-item[data-id], .document-title,
 *                button.document-delete)
 *   keys         #page-keys, #key-create (details), #key-create-form, #key-name, #key-owner,
 *                #key-scope-chat, #key-scope-memory-read, #key-scope-memory-write,
 *                #key-scope-admin, #key-rpm, #key-quota, #key-expires, #key-create-submit,
 *                #key-create-error, #key-once, #key-once-value, #key-once-copy,
 *                #key-once-dismiss, #keys-error, #keys-count, #key-list (li.key-item[data-id],
 *                .key-name, .key-prefix, button.key-revoke)
 *   settings     #page-settings, #settings-load-error, #settings-form, #cfg-chat-provider,
 *                #cfg-chat-base-url, #cfg-chat-api-key, #cfg-chat-model, #cfg-emb-provider, #cfg-emb-base-url,
 *                #cfg-emb-api-key, #cfg-emb-model, #cfg-emb-dimensions,
 *                #cfg-public-model-name, #cfg-system-prompt, #cfg-max-conversations,
 *                #cfg-conversation-ttl-days, #cfg-rag-enabled, #cfg-rag-top-k,
 *                #cfg-rag-min-score, #cfg-drawing-enabled, #cfg-drawing-triggers,
 *                #cfg-drawing-model, #settings-save, #settings-error, #settings-saved
 *   conversations #page-conversations, #conv-filter-form, #conv-owner-filter,
 *                #conv-filter-submit, #conversations-error, #conversation-list
 *                (li.conversation-item[data-id] > button), #conversation-detail
 *                (.message[data-role], .message-content)
 */
'use strict';

(() => {
  // ---------------------------------------------------------------------------------
  // Small DOM helpers (text only: no innerHTML anywhere)

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** el('div', {id, class, text, dataset, on: {click}}, ...children) */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    applyProps(node, props);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    }
    append(node, children);
    return node;
  }

  function applyProps(node, props) {
    if (!props) return;
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === 'testid') node.dataset.testid = v;
      else if (k in node && typeof v !== 'string') node[k] = v;
      else if (k === 'value') node.value = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function $(id) { return document.getElementById(id); }

  const ICONS = {
    copy: 'M9 9h10v10H9zM5 15V5h10',
    plus: 'M12 5v14M5 12h14',
    search: 'M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM20 20l-4-4',
    trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
    tag: 'M3 12V3h9l9 9-9 9zM7.5 7.5h.01',
    upload: 'M12 16V4M7 9l5-5 5 5M4 20h16',
    key: 'M15 7a4 4 0 1 1-3.9 5H4v3h3v3h3v-3h1.1A4 4 0 0 1 15 7zM16 10h.01',
    stored: 'M12 5v14M5 12h14',
    deleted: 'M5 12h14',
    search_completed: 'M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM20 20l-4-4',
    warn: 'M12 4l9 16H3zM12 10v4M12 17h.01',
    chat: 'M4 5h16v11H8l-4 4z',
  };

  function icon(name, cls) {
    return svg('svg', {viewBox: '0 0 24 24', class: 'icon ' + (cls || ''), 'aria-hidden': 'true'},
      svg('path', {d: ICONS[name] || ICONS.plus}));
  }

  // ---------------------------------------------------------------------------------
  // Formatting

  const numberFmt = new Intl.NumberFormat();
  function fmtNum(n) { return typeof n === 'number' && isFinite(n) ? numberFmt.format(n) : '—'; }

  function toDate(t) {
    if (t === null || t === undefined || t === '') return null;
    const d = typeof t === 'number' ? new Date(t < 1e12 ? t * 1000 : t) : new Date(t);
    return isNaN(d.getTime()) ? null : d;
  }

  function fmtDate(t) {
    const d = toDate(t);
    return d ? d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'}) : '—';
  }

  function fmtDay(t) {
    const d = toDate(t);
    return d ? d.toLocaleDateString(undefined, {year: 'numeric', month: 'short', day: 'numeric'}) : '—';
  }

  function fmtRelative(t) {
    const d = toDate(t);
    if (!d) return '';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 10) return 'just now';
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return fmtDay(d);
  }

  function fmtBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '—';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function plural(n, word, many) { return `${fmtNum(n)} ${n === 1 ? word : (many || word + 's')}`; }

  function parseTags(text) {
    const seen = new Set();
    const out = [];
    for (const raw of String(text || '').split(',')) {
      const t = raw.trim();
      if (t && !seen.has(t)) { seen.add(t); out.push(t); }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------
  // API access

  class ApiError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail);
      this.status = status;
      this.detail = detail;
      this.retryAfter = retryAfter;
    }
    get unavailable() { return this.status === 404; }
  }

  function detailOf(data) {
    if (!data || typeof data !== 'object') return '';
    const d = data.detail ?? data.error?.message ?? data.message;
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) return d.map((x) => (x && (x.msg || x.message)) || JSON.stringify(x)).join('; ');
    if (d && typeof d === 'object') return JSON.stringify(d);
    return '';
  }

  function statusText(status) {
    return ({400: 'Bad request', 401: 'Not signed in', 403: 'Not allowed', 404: 'Not found',
      409: 'Conflict', 413: 'Too large', 429: 'Too many requests', 500: 'Server error',
      502: 'Upstream error', 503: 'Unavailable'})[status] || `HTTP ${status}`;
  }

  /** JSON request to the Worker; throws ApiError with the server's `detail`. */
  async function api(method, path, body, opts) {
    opts = opts || {};
    const init = {method, credentials: 'same-origin', headers: {accept: 'application/json'}, cache: 'no-store'};
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'Cannot reach memgate (network error). Check the connection and try again.');
    }
    let data = null;
    const text = await res.text().catch(() => '');
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, detailOf(data) || statusText(res.status), res.headers.get('retry-after'));
      if (res.status === 401 && !opts.noAuthRedirect) {
        err.handled = true; // the sign-in page is showing: no need to show it again
        sessionLost(err.detail);
      }
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------------------------
  // Shared UI pieces

  function toast(message, kind) {
    const t = el('div', {class: `toast toast-${kind || 'ok'}`, text: message, role: kind === 'error' ? 'alert' : 'status'});
    $('toasts').appendChild(t);
    setTimeout(() => t.classList.add('toast-out'), 3200);
    setTimeout(() => t.remove(), 3700);
  }

  /** Shows an error (or "not available" on 404) inside `box`; 401s are handled globally. */
  function showError(box, err, what) {
    if (!box) return;
    clear(box);
    box.hidden = false;
    if (err && err.handled) { box.hidden = true; return; }
    if (err && err.unavailable && what) {
      box.className = 'alert alert-muted unavailable';
      box.dataset.testid = 'unavailable';
      box.append(icon('warn'), el('span', {text: `${what} is not available on this memgate yet (the server answered 404).`}));
      return;
    }
    box.className = 'alert alert-error';
    box.dataset.testid = 'error';
    box.append(icon('warn'), el('span', {text: err && err.detail ? err.detail : String(err)}));
  }

  function hideBox(box) { if (box) { clear(box); box.hidden = true; } }

  function alertBox(id) { return el('div', {id, class: 'alert', hidden: true, role: 'alert'}); }

  function field(label, input, hint) {
    const id = input.id;
    return el('div', {class: 'field'},
      el('label', {for: id, text: label}),
      input,
      hint ? el('p', {class: 'hint', text: hint}) : null);
  }

  function input(id, props) {
    return el('input', Object.assign({id, name: id, class: 'input', autocomplete: 'off'}, props || {}));
  }

  function select(id, options, value) {
    const s = el('select', {id, name: id, class: 'input'});
    for (const o of options) {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      s.appendChild(el('option', {value: v, text: label}));
    }
    if (value !== undefined && value !== null) s.value = value;
    return s;
  }

  function button(text, props, iconName) {
    const b = el('button', Object.assign({type: 'button', class: 'btn'}, props || {}));
    if (iconName) b.appendChild(icon(iconName));
    b.appendChild(el('span', {text}));
    return b;
  }

  function setBusy(btn, busy, busyText) {
    if (!btn) return;
    btn.disabled = !!busy;
    const label = btn.querySelector('span');
    if (busy) {
      btn.dataset.label = label ? label.textContent : '';
      if (label && busyText) label.textContent = busyText;
      btn.classList.add('busy');
    } else {
      if (label && btn.dataset.label) label.textContent = btn.dataset.label;
      btn.classList.remove('busy');
    }
  }

  function chips(tags, cls) {
    const wrap = el('div', {class: 'chips ' + (cls || '')});
    for (const t of tags || []) wrap.appendChild(el('span', {class: 'chip', text: t}));
    return wrap;
  }

  async function copyText(text, btn) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (e) { ok = false; }
    if (!ok) {
      const ta = el('textarea', {class: 'offscreen', readonly: true});
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      ta.remove();
    }
    if (btn) {
      const label = btn.querySelector('span');
      if (label) {
        const before = label.textContent;
        label.textContent = ok ? 'Copied' : 'Select and copy';
        setTimeout(() => { label.textContent = before; }, 1800);
      }
    }
    if (!ok) toast('Copying is blocked here: select the key and copy it by hand.', 'error');
    return ok;
  }

  /** A panel that shows a secret once, with a copy button and a warning. */
  function secretOnce(prefix, title, secret, onDismiss, dismissText) {
    const value = el('code', {id: `${prefix}-value`, class: 'secret-value', text: secret, tabindex: '0'});
    const copy = button('Copy', {id: `${prefix}-copy`, class: 'btn btn-primary'}, 'copy');
    copy.addEventListener('click', () => copyText(secret, copy));
    value.addEventListener('focus', () => {
      const r = document.createRange();
      r.selectNodeContents(value);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
    });
    const dismiss = button(dismissText || 'I have saved it', {id: `${prefix}-dismiss`, class: 'btn btn-ghost'});
    dismiss.addEventListener('click', onDismiss);
    return el('section', {id: prefix, class: 'card secret-card', role: 'region', 'aria-label': title},
      el('h2', {text: title}),
      el('div', {class: 'alert alert-warn'}, icon('warn'),
        el('span', {text: 'Copy this key now. It is shown only once: memgate stores only a hash of it and cannot show it again.'})),
      el('div', {class: 'secret-row'}, value, copy),
      el('div', {class: 'form-actions'}, dismiss));
  }

  let confirmResolve = null;
  function confirmAction(message, okText) {
    const dlg = $('confirm-dialog');
    $('confirm-message').textContent = message;
    $('confirm-ok').textContent = okText || 'Delete';
    if (confirmResolve) confirmResolve(false);
    return new Promise((resolve) => {
      confirmResolve = resolve;
      dlg.returnValue = '';
      if (typeof dlg.showModal === 'function') dlg.showModal();
      else resolve(window.confirm(message));
    });
  }

  function pageHeader(title, subtitle, ...actions) {
    return el('header', {class: 'page-header'},
      el('div', null, el('h1', {text: title}), subtitle ? el('p', {class: 'subtitle', text: subtitle}) : null),
      actions.length ? el('div', {class: 'page-actions'}, actions) : null);
  }

  function isPhone() { return window.matchMedia('(max-width: 760px)').matches; }

  function emptyState(text) { return el('li', {class: 'empty', text}); }

  function loadingRow() { return el('li', {class: 'loading'}, el('span', {class: 'spinner', 'aria-hidden': 'true'}), el('span', {text: 'Loading…'})); }

  // ---------------------------------------------------------------------------------
  // App state and routing

  const ROUTES = ['dashboard', 'memories', 'documents', 'keys', 'conversations', 'settings'];
  const state = {status: null, authed: false, loginNotice: '', setupKey: null};
  let renderSeq = 0;

  function currentRoute() {
    const m = /^#\/([a-z-]+)/.exec(location.hash || '');
    return m && ROUTES.includes(m[1]) ? m[1] : 'dashboard';
  }

  function setShell(mode) {
    $('app').dataset.state = mode;
    $('sidebar').hidden = mode !== 'ready';
  }

  function newView(id) {
    const view = $('view');
    clear(view);
    const page = el('div', {id, class: 'page'});
    view.appendChild(page);
    return page;
  }

  async function boot() {
    setShell('loading');
    try {
      state.status = await api('GET', '/admin/status', undefined, {noAuthRedirect: true});
    } catch (err) {
      renderFatal(err);
      return;
    }
    $('app-version').textContent = state.status && state.status.version ? `v${state.status.version}` : '';
    if (!state.status || !state.status.initialized) {
      renderSetup();
      return;
    }
    state.authed = await checkSession();
    render();
  }

  /** Is the (HttpOnly) session cookie valid? Asks a cheap admin endpoint. */
  async function checkSession() {
    for (const path of ['/admin/config', '/admin/keys']) {
      try {
        await api('GET', path, undefined, {noAuthRedirect: true});
        return true;
      } catch (err) {
        if (err.status === 401 || err.status === 403) return false;
        if (err.status !== 404) return true; // signed in, but that endpoint failed: pages will say why
      }
    }
    return false;
  }

  function render() {
    if (!state.status || !state.status.initialized) { renderSetup(); return; }
    if (!state.authed) { renderLogin(); return; }
    setShell('ready');
    const route = currentRoute();
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.route === route) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const seq = ++renderSeq;
    const pages = {dashboard: renderDashboard, memories: renderMemories, documents: renderDocuments,
      keys: renderKeys, conversations: renderConversations, settings: renderSettings};
    document.title = `${route[0].toUpperCase()}${route.slice(1)} · memgate`;
    pages[route](seq);
    ensureEvents();
  }

  function sessionLost(detail) {
    if (!state.authed) return;
    state.authed = false;
    stopEvents();
    state.loginNotice = detail && /expired/i.test(detail) ? detail : 'Your session has ended. Sign in again.';
    renderLogin();
  }

  function renderFatal(err) {
    setShell('error');
    const page = newView('page-error');
    const retry = button('Try again', {class: 'btn btn-primary', id: 'retry-button'});
    retry.addEventListener('click', boot);
    page.appendChild(el('div', {class: 'auth-wrap'},
      el('div', {class: 'card auth-card'},
        el('h1', {text: 'memgate is not answering'}),
        el('div', {class: 'alert alert-error', testid: 'error'}, icon('warn'), el('span', {text: err.detail || String(err)})),
        el('div', {class: 'form-actions'}, retry))));
  }

  // ---------------------------------------------------------------------------------
  // Setup (first run)

  function renderSetup() {
    setShell('setup');
    document.title = 'Set up · memgate';
    const page = newView('page-setup');
    if (state.setupKey) { renderSetupKey(page); return; }

    const pw = input('setup-password', {type: 'password', autocomplete: 'new-password', required: true, minLength: 8});
    const confirm = input('setup-confirm', {type: 'password', autocomplete: 'new-password', required: true, minLength: 8});
    const chatProvider = select('setup-chat-provider', [['', 'Server default'], ['workers-ai', 'Workers AI'], ['openai', 'OpenAI-compatible']]);
    const chatBase = input('setup-chat-base-url', {type: 'url', placeholder: 'https://api.openai.com/v1'});
    const chatKey = input('setup-chat-api-key', {type: 'password', autocomplete: 'new-password', placeholder: 'Upstream API key (optional)'});
    const chatModel = input('setup-chat-model', {placeholder: 'gpt-4o-mini or @cf/meta/llama-3.1-8b-instruct'});
    const embProvider = select('setup-emb-provider', [['', 'Server default'], ['workers-ai', 'Workers AI'], ['openai', 'OpenAI-compatible'], ['hashing', 'Hashing (offline, built in)']]);
    const embBase = input('setup-emb-base-url', {type: 'url', placeholder: 'https://api.openai.com/v1'});
    const embKey = input('setup-emb-api-key', {type: 'password', autocomplete: 'new-password', placeholder: 'Upstream API key (optional)'});
    const embModel = input('setup-emb-model', {placeholder: '768-dimension model, e.g. @cf/baai/bge-base-en-v1.5'});
    const publicName = input('setup-public-model-name', {placeholder: 'memgate'});
    const prompt = el('textarea', {id: 'setup-system-prompt', class: 'input', rows: 3, placeholder: 'Leave empty for the default prompt'});
    const error = alertBox('setup-error');
    const submit = button('Initialise memgate', {type: 'submit', id: 'setup-submit', class: 'btn btn-primary btn-block'});

    const chatFields = el('div', {class: 'provider-fields'},
      field('Base URL', chatBase, 'Only for OpenAI-compatible upstreams.'), field('API key', chatKey), field('Model', chatModel));
    const embFields = el('div', {class: 'provider-fields'},
      field('Base URL', embBase, 'Only for OpenAI-compatible upstreams.'), field('API key', embKey), field('Model', embModel));
    const sync = () => {
      chatFields.hidden = !chatProvider.value;
      embFields.hidden = !embProvider.value || embProvider.value === 'hashing';
    };
    chatProvider.addEventListener('change', sync);
    embProvider.addEventListener('change', sync);
    sync();

    const form = el('form', {id: 'setup-form', class: 'stack', novalidate: true},
      el('fieldset', {class: 'fieldset'},
        el('legend', {text: 'Admin password'}),
        field('Password', pw, 'At least 8 characters. You sign in to this panel with it.'),
        field('Confirm password', confirm)),
      el('details', {class: 'fieldset', id: 'setup-chat'},
        el('summary', {text: 'Chat provider (optional)'}),
        field('Provider', chatProvider), chatFields),
      el('details', {class: 'fieldset', id: 'setup-embeddings'},
        el('summary', {text: 'Embeddings provider (optional)'}),
        field('Provider', embProvider), embFields),
      el('details', {class: 'fieldset', id: 'setup-gateway'},
        el('summary', {text: 'Gateway (optional)'}),
        field('Public model name', publicName, 'The model name clients see in /v1/models.'),
        field('System prompt', prompt)),
      error,
      submit);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      hideBox(error);
      const fail = (msg, focus) => { showError(error, new ApiError(400, msg)); if (focus) focus.focus(); };
      if (pw.value.length < 8) return fail('The admin password must be at least 8 characters.', pw);
      if (pw.value !== confirm.value) return fail('The two passwords do not match.', confirm);
      const body = {admin_password: pw.value};
      if (chatProvider.value) {
        if (!chatModel.value.trim()) return fail('Choose a chat model, or leave the chat provider on "Server default".', chatModel);
        body.chat = {provider: chatProvider.value, model: chatModel.value.trim()};
        if (chatBase.value.trim()) body.chat.base_url = chatBase.value.trim();
        if (chatKey.value) body.chat.api_key = chatKey.value;
      }
      if (embProvider.value) {
        body.embeddings = {provider: embProvider.value};
        if (embProvider.value !== 'hashing') {
          if (embBase.value.trim()) body.embeddings.base_url = embBase.value.trim();
          if (embKey.value) body.embeddings.api_key = embKey.value;
          if (embModel.value.trim()) body.embeddings.model = embModel.value.trim();
        }
      }
      if (publicName.value.trim()) body.public_model_name = publicName.value.trim();
      if (prompt.value.trim()) body.system_prompt = prompt.value;
      setBusy(submit, true, 'Initialising…');
      try {
        const res = await api('POST', '/admin/init', body, {noAuthRedirect: true});
        state.setupKey = res;
        state.status = Object.assign({}, state.status, {initialized: true});
        renderSetup();
      } catch (err) {
        if (err.status === 409) {
          state.status = Object.assign({}, state.status, {initialized: true});
          state.loginNotice = 'memgate is already initialised: sign in with its admin password.';
          renderLogin();
          return;
        }
        showError(error, err);
      } finally {
        setBusy(submit, false);
      }
    });

    page.appendChild(el('div', {class: 'auth-wrap'},
      el('div', {class: 'card auth-card auth-card-wide'},
        el('div', {class: 'auth-brand'}, el('span', {class: 'brand-mark', 'aria-hidden': 'true'}), el('span', {text: 'memgate'})),
        el('h1', {text: 'Set up memgate'}),
        el('p', {class: 'subtitle', text: 'Choose the admin password. Providers can be changed later in Settings.'}),
        form)));
    pw.focus();
  }

  function renderSetupKey(page) {
    const res = state.setupKey;
    const done = () => {
      state.setupKey = null; // forget the key: it is shown once
      state.loginNotice = 'memgate is ready. Sign in with the admin password you chose.';
      renderLogin();
    };
    const panel = secretOnce('setup-key', 'Your admin API key', res.api_key || '', done, 'I have saved it: continue to sign-in');
    panel.querySelector('#setup-key-dismiss').id = 'setup-continue';
    panel.insertBefore(el('p', {class: 'subtitle',
      text: `Owner "${res.owner || 'admin'}" · scopes: ${(res.scopes || []).join(', ')}. Use it as "Authorization: Bearer <key>" for the API and the OpenAI-compatible gateway.`}),
    panel.querySelector('.alert'));
    page.appendChild(el('div', {class: 'auth-wrap'}, el('div', {class: 'auth-card-wide'}, panel)));
  }

  // ---------------------------------------------------------------------------------
  // Sign-in

  let retryTimer = null;

  function renderLogin() {
    setShell('login');
    document.title = 'Sign in · memgate';
    const page = newView('page-login');
    const pw = input('login-password', {type: 'password', autocomplete: 'current-password', required: true});
    const error = alertBox('login-error');
    const submit = button('Sign in', {type: 'submit', id: 'login-submit', class: 'btn btn-primary btn-block'});
    const notice = el('div', {id: 'login-notice', class: 'alert alert-info', hidden: !state.loginNotice, text: state.loginNotice || ''});
    state.loginNotice = '';
    const form = el('form', {id: 'login-form', class: 'stack', novalidate: true},
      notice, field('Admin password', pw), error, submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      hideBox(error);
      notice.hidden = true;
      if (!pw.value) { showError(error, new ApiError(400, 'Enter the admin password.')); pw.focus(); return; }
      setBusy(submit, true, 'Signing in…');
      try {
        await api('POST', '/admin/login', {password: pw.value}, {noAuthRedirect: true});
        state.authed = true;
        pw.value = '';
        render();
        return;
      } catch (err) {
        if (err.status === 429) {
          const secs = parseInt(err.retryAfter || '', 10);
          showError(error, new ApiError(429, isFinite(secs) && secs > 0
            ? `Too many sign-in attempts. Try again in ${secs} seconds.`
            : `Too many sign-in attempts. Wait a few minutes and try again.`));
          if (isFinite(secs) && secs > 0) lockLogin(submit, secs);
        } else if (err.status === 401) {
          showError(error, new ApiError(401, err.detail === 'wrong password' ? 'Wrong password. Try again.' : err.detail));
          pw.select();
        } else {
          showError(error, err);
        }
      }
      if (!submit.dataset.locked) setBusy(submit, false);
    });
    page.appendChild(el('div', {class: 'auth-wrap'},
      el('div', {class: 'card auth-card'},
        el('div', {class: 'auth-brand'}, el('span', {class: 'brand-mark', 'aria-hidden': 'true'}), el('span', {text: 'memgate'})),
        el('h1', {text: 'Sign in'}),
        el('p', {class: 'subtitle', text: 'Administer memories, documents, keys and the gateway.'}),
        form)));
    pw.focus();
  }

  function lockLogin(btn, secs) {
    clearInterval(retryTimer);
    btn.dataset.locked = '1';
    btn.disabled = true;
    const label = btn.querySelector('span');
    let left = secs;
    const tick = () => {
      if (!btn.isConnected) { clearInterval(retryTimer); return; }
      if (left <= 0) {
        clearInterval(retryTimer);
        delete btn.dataset.locked;
        btn.disabled = false;
        btn.classList.remove('busy');
        label.textContent = 'Sign in';
        return;
      }
      label.textContent = `Wait ${left}s`;
      left -= 1;
    };
    tick();
    retryTimer = setInterval(tick, 1000);
  }

  async function logout() {
    try {
      await api('POST', '/admin/logout', undefined, {noAuthRedirect: true});
    } catch (err) { /* signing out locally is what matters */ }
    state.authed = false;
    stopEvents();
    activity.length = 0;
    state.loginNotice = 'You are signed out.';
    renderLogin();
  }

  // ---------------------------------------------------------------------------------
  // Live events (one EventSource while signed in)

  const activity = []; // newest first, at most 50
  let events = null;
  let eventsState = 'offline';
  let eventsRetry = null;
  let eventsBackoff = 2000;

  function setLive(s) {
    eventsState = s;
    const ind = $('live-indicator');
    if (!ind) return;
    ind.dataset.state = s;
    const label = ind.querySelector('.live-label');
    if (label) label.textContent = {live: 'Live', connecting: 'Connecting…', offline: 'Reconnecting…', unavailable: 'Not available'}[s] || s;
    ind.title = s === 'unavailable' ? 'This memgate does not serve /api/events yet.' : '';
  }

  function ensureEvents() {
    if (events || eventsState === 'unavailable' || !state.authed || typeof EventSource === 'undefined') return;
    clearTimeout(eventsRetry);
    setLive('connecting');
    const es = new EventSource('/api/events');
    events = es;
    const live = () => { eventsBackoff = 2000; setLive('live'); };
    es.onopen = live;
    es.addEventListener('connected', live);
    es.addEventListener('heartbeat', live);
    for (const name of ['memory_stored', 'memory_deleted', 'search_completed']) {
      es.addEventListener(name, (ev) => {
        live();
        let data = {};
        try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
        pushActivity(name, data);
      });
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (not a dropped connection): ask it why.
        events = null;
        es.close();
        diagnoseEvents();
      } else {
        setLive('offline');
      }
    };
  }

  async function diagnoseEvents() {
    const ctrl = new AbortController();
    let status = 0;
    try {
      const res = await fetch('/api/events', {credentials: 'same-origin', signal: ctrl.signal, cache: 'no-store'});
      status = res.status;
      ctrl.abort();
    } catch (e) { status = 0; }
    if (status === 404) { setLive('unavailable'); return; }
    if (status === 401) { sessionLost(''); return; }
    setLive('offline');
    if (!state.authed) return;
    eventsRetry = setTimeout(ensureEvents, eventsBackoff);
    eventsBackoff = Math.min(eventsBackoff * 2, 60000);
  }

  function stopEvents() {
    clearTimeout(eventsRetry);
    if (events) events.close();
    events = null;
    eventsState = 'offline';
    eventsBackoff = 2000;
  }

  function pushActivity(type, data) {
    const item = {type, data, at: data.timestamp || new Date().toISOString()};
    if (type === 'memory_deleted' && data.content_hash) {
      const known = activity.find((a) => a.data.content_hash === data.content_hash && a.data.content_preview);
      if (known) item.data = Object.assign({content_preview: known.data.content_preview}, data);
    }
    activity.unshift(item);
    if (activity.length > 50) activity.length = 50;
    const list = $('activity');
    if (list) {
      const empty = list.querySelector('.empty');
      if (empty) empty.remove();
      const node = activityItem(item);
      node.classList.add('fresh');
      list.insertBefore(node, list.firstChild);
      while (list.children.length > 50) list.removeChild(list.lastChild);
    }
    if (type !== 'search_completed') refreshStatsSoon();
  }

  function activityItem(item) {
    const d = item.data || {};
    let label; let text; let kind;
    if (item.type === 'memory_stored') {
      kind = 'stored'; label = 'Stored';
      text = d.content_preview || d.content_hash || '';
    } else if (item.type === 'memory_deleted') {
      kind = 'deleted'; label = 'Deleted';
      text = d.content_preview || (d.content_hash ? `memory ${String(d.content_hash).slice(0, 12)}…` : 'a memory');
    } else {
      kind = 'search'; label = 'Search';
      const n = typeof d.results === 'number' ? d.results : (typeof d.total_found === 'number' ? d.total_found : null);
      text = `“${d.query || ''}”` + (n === null ? '' : ` → ${plural(n, 'result')}`);
    }
    const time = el('time', {class: 'activity-time', text: fmtRelative(item.at), datetime: item.at});
    time.title = fmtDate(item.at);
    return el('li', {class: `activity-item activity-${kind}`, dataset: {event: item.type}, testid: 'activity-item'},
      el('span', {class: `activity-icon activity-icon-${kind}`}, icon(item.type === 'memory_stored' ? 'stored' : item.type === 'memory_deleted' ? 'deleted' : 'search_completed')),
      el('div', {class: 'activity-body'},
        el('div', {class: 'activity-meta'}, el('span', {class: 'activity-label', text: label}), d.memory_type ? el('span', {class: 'muted', text: d.memory_type}) : null, time),
        el('p', {class: 'activity-text', text}),
        d.tags && d.tags.length ? chips(d.tags, 'chips-small') : null));
  }

  let statsTimer = null;
  function refreshStatsSoon() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(() => { if ($('page-dashboard')) loadStats(); }, 600);
  }

  // ---------------------------------------------------------------------------------
  // Dashboard

  function statCard(id, label) {
    return el('div', {class: 'card stat'}, el('span', {class: 'stat-label', text: label}), el('span', {id, class: 'stat-value', text: '—'}));
  }

  function renderDashboard() {
    const page = newView('page-dashboard');
    const live = el('span', {id: 'live-indicator', class: 'live', dataset: {state: eventsState}},
      el('span', {class: 'live-dot', 'aria-hidden': 'true'}), el('span', {class: 'live-label'}));
    const activityList = el('ul', {id: 'activity', class: 'activity', 'aria-live': 'polite'});
    if (activity.length) for (const a of activity) activityList.appendChild(activityItem(a));
    else activityList.appendChild(emptyState('Waiting for activity. New memories, deletions and searches appear here as they happen.'));

    page.append(
      pageHeader('Dashboard', 'Memories, gateway usage and what is happening right now.'),
      el('div', {class: 'stats'},
        statCard('stat-total', 'Memories'),
        statCard('stat-week', 'Added this week'),
        statCard('stat-tags', 'Tags'),
        statCard('stat-documents', 'Documents')),
      alertBox('stats-error'),
      el('section', {class: 'card'},
        el('div', {class: 'card-head'}, el('h2', {text: 'Gateway tokens, last 14 days'}), el('div', {id: 'usage-summary', class: 'muted small'})),
        alertBox('usage-error'),
        el('div', {id: 'usage-chart', class: 'chart'}, el('div', {class: 'chart-loading'}, el('span', {class: 'spinner'})))),
      el('div', {class: 'grid-2'},
        el('section', {class: 'card'},
          el('div', {class: 'card-head'}, el('h2', {text: 'Live activity'}), live),
          activityList),
        el('section', {class: 'card'},
          el('div', {class: 'card-head'}, el('h2', {text: 'Recent memories'}), el('a', {href: '#/memories', class: 'link small', text: 'All memories →'})),
          el('ul', {id: 'recent-memories', class: 'recent'}, loadingRow()))));
    setLive(eventsState);
    loadStats();
    loadUsage();
    loadRecent();
    clearInterval(relTimer);
    relTimer = setInterval(updateRelativeTimes, 30000);
  }

  let relTimer = null;
  function updateRelativeTimes() {
    const list = $('activity');
    if (!list) { clearInterval(relTimer); return; }
    for (const t of list.querySelectorAll('time[datetime]')) t.textContent = fmtRelative(t.getAttribute('datetime'));
  }

  async function loadStats() {
    const box = $('stats-error');
    try {
      const s = await api('GET', '/api/stats');
      hideBox(box);
      const set = (id, v) => { const n = $(id); if (n) n.textContent = fmtNum(typeof v === 'number' ? v : NaN); };
      set('stat-total', s && s.total_memories);
      set('stat-tags', s && s.unique_tags);
      set('stat-week', s && s.memories_this_week);
      set('stat-documents', s && s.documents);
    } catch (err) {
      showError(box, err, 'Memory statistics (/api/stats)');
    }
  }

  async function loadUsage() {
    const chart = $('usage-chart');
    const box = $('usage-error');
    try {
      const data = await api('GET', '/admin/usage?days=14');
      if (!chart.isConnected) return;
      drawUsage(chart, (data && Array.isArray(data.usage)) ? data.usage : []);
    } catch (err) {
      if (!chart.isConnected) return;
      clear(chart);
      chart.hidden = true;
      showError(box, err, 'Usage statistics (/admin/usage)');
    }
  }

  function lastDays(n) {
    const days = [];
    const now = new Date();
    for (let i = n - 1; i >= 0; i--) {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - i));
      days.push(d.toISOString().slice(0, 10));
    }
    return days;
  }

  let usageRows = null;
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      const box = $('usage-chart');
      if (box && usageRows) drawUsage(box, usageRows);
    }, 150);
  });

  function drawUsage(box, rows) {
    usageRows = rows;
    clear(box);
    const days = lastDays(14);
    const byDay = new Map(days.map((d) => [d, {prompt: 0, completion: 0, requests: 0, errors: 0}]));
    for (const r of rows) {
      if (!r || typeof r.day !== 'string') continue;
      if (!byDay.has(r.day)) byDay.set(r.day, {prompt: 0, completion: 0, requests: 0, errors: 0});
      const b = byDay.get(r.day);
      b.prompt += Number(r.prompt_tokens) || 0;
      b.completion += Number(r.completion_tokens) || 0;
      b.requests += Number(r.requests) || 0;
      b.errors += Number(r.errors) || 0;
    }
    const keys = [...byDay.keys()].sort().slice(-14);
    const totals = keys.map((k) => byDay.get(k));
    const sum = (f) => totals.reduce((a, b) => a + f(b), 0);
    const totalTokens = sum((b) => b.prompt + b.completion);
    const summary = $('usage-summary');
    if (summary) summary.textContent = `${plural(sum((b) => b.requests), 'request')} · ${plural(totalTokens, 'token')} · ${plural(sum((b) => b.errors), 'error')}`;

    const W = Math.max(280, Math.round(box.clientWidth || 700));
    const H = W < 500 ? 190 : 230; const padL = 40; const padR = 4; const padT = 12; const padB = 26;
    const max = Math.max(1, ...totals.map((b) => b.prompt + b.completion));
    const scale = niceMax(max);
    const plotW = W - padL - padR; const plotH = H - padT - padB;
    const slot = plotW / keys.length;
    const barW = Math.max(4, Math.min(36, slot * 0.62));
    const labelEvery = slot < 24 ? 3 : slot < 48 ? 2 : 1;
    const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img',
      'aria-label': `Tokens per day over the last 14 days: ${fmtNum(totalTokens)} in total`, width: W, height: H});
    for (let i = 0; i <= 4; i++) {
      const y = padT + plotH - (plotH * i) / 4;
      chart.appendChild(svg('line', {x1: padL, x2: W - padR, y1: y, y2: y, class: i === 0 ? 'axis' : 'grid'}));
      chart.appendChild(svg('text', {x: padL - 6, y: y + 4, class: 'tick', 'text-anchor': 'end'}, compact((scale * i) / 4)));
    }
    keys.forEach((k, i) => {
      const b = byDay.get(k);
      const x = padL + slot * i + (slot - barW) / 2;
      const hp = (plotH * b.prompt) / scale;
      const hc = (plotH * b.completion) / scale;
      const g = svg('g', {class: 'bar', 'data-day': k});
      g.appendChild(svg('title', null, `${k}: ${fmtNum(b.prompt)} prompt + ${fmtNum(b.completion)} completion tokens, ${plural(b.requests, 'request')}, ${plural(b.errors, 'error')}`));
      g.appendChild(svg('rect', {x, width: barW, y: padT + plotH - hp, height: Math.max(0, hp), class: 'bar-prompt', rx: 2}));
      g.appendChild(svg('rect', {x, width: barW, y: padT + plotH - hp - hc, height: Math.max(0, hc), class: 'bar-completion', rx: 2}));
      g.appendChild(svg('rect', {x: padL + slot * i, width: slot, y: padT, height: plotH, class: 'bar-hit'}));
      chart.appendChild(g);
      if ((keys.length - 1 - i) % labelEvery === 0) {
        chart.appendChild(svg('text', {x: padL + slot * i + slot / 2, y: H - 8, class: 'tick', 'text-anchor': 'middle'}, k.slice(5).replace('-', '/')));
      }
    });
    box.appendChild(chart);
    const legend = el('div', {class: 'legend'},
      el('span', {class: 'legend-item'}, el('span', {class: 'swatch swatch-prompt'}), 'Prompt tokens'),
      el('span', {class: 'legend-item'}, el('span', {class: 'swatch swatch-completion'}), 'Completion tokens'));
    box.appendChild(legend);
    if (!totalTokens && !sum((b) => b.requests)) {
      box.appendChild(el('p', {class: 'chart-empty', text: 'No gateway traffic yet. Requests to /v1/chat/completions will show up here.'}));
    }
  }

  function niceMax(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function compact(n) {
    if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
    if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
    return String(Math.round(n * 10) / 10);
  }

  async function loadRecent() {
    const list = $('recent-memories');
    try {
      const data = await api('GET', '/api/memories?page=1&page_size=5');
      if (!list.isConnected) return;
      clear(list);
      const mems = (data && data.memories) || [];
      if (!mems.length) list.appendChild(emptyState('No memories yet. Add one on the Memories page or through the API.'));
      for (const m of mems) {
        list.appendChild(el('li', {class: 'recent-item'},
          el('p', {class: 'recent-text', text: m.content || ''}),
          el('div', {class: 'recent-meta'},
            el('span', {class: 'muted small', text: fmtRelative(m.created_at_iso || m.created_at)}),
            chips(m.tags, 'chips-small'))));
      }
    } catch (err) {
      if (!list.isConnected) return;
      clear(list);
      const box = el('li', {class: 'alert'});
      list.appendChild(box);
      showError(box, err, 'The memory list (/api/memories)');
    }
  }

  // ---------------------------------------------------------------------------------
  // Memories

  const memState = {page: 1, pageSize: 20, tag: '', query: ''};

  function renderMemories(seq) {
    const page = newView('page-memories');
    const content = el('textarea', {id: 'memory-content', class: 'input', rows: 3, required: true, placeholder: 'Something worth remembering…'});
    const tags = input('memory-tags', {placeholder: 'work, ideas'});
    const type = input('memory-type', {placeholder: 'note', list: 'memory-type-options'});
    const typeOptions = el('datalist', {id: 'memory-type-options'}, ['note', 'fact', 'decision', 'task', 'reference', 'preference', 'idea'].map((t) => el('option', {value: t})));
    const addResult = alertBox('memory-add-result');
    const addBtn = button('Add memory', {type: 'submit', id: 'memory-add-submit', class: 'btn btn-primary'}, 'plus');
    const addForm = el('form', {id: 'memory-add-form', class: 'stack', novalidate: true},
      field('Content', content),
      el('div', {class: 'row-2'}, field('Tags', tags, 'Comma-separated.'), field('Type', type)), typeOptions,
      addResult,
      el('div', {class: 'form-actions'}, addBtn));

    const q = input('memory-search-input', {type: 'search', placeholder: 'Search memories…', value: memState.query, 'aria-label': 'Search memories'});
    const searchBtn = button('Search', {type: 'submit', id: 'memory-search-submit', class: 'btn btn-primary'}, 'search');
    const clearBtn = button('Clear', {id: 'memory-search-clear', class: 'btn btn-ghost', hidden: !memState.query});
    const tagFilter = select('memory-tag-filter', [['', 'All tags']], '');
    tagFilter.setAttribute('aria-label', 'Filter by tag');
    const searchForm = el('form', {id: 'memory-search-form', class: 'toolbar', role: 'search'}, q, searchBtn, clearBtn, tagFilter);
    const summary = el('p', {id: 'memory-summary', class: 'muted small'});
    const errorBox = alertBox('memories-error');
    const list = el('div', {id: 'memory-list', class: 'memory-list'});
    const prev = button('← Previous', {id: 'memory-prev', class: 'btn btn-ghost'});
    const next = button('Next →', {id: 'memory-next', class: 'btn btn-ghost'});
    const info = el('span', {id: 'memory-page-info', class: 'muted small'});
    const pager = el('nav', {id: 'memory-pager', class: 'pager', 'aria-label': 'Pages', hidden: true}, prev, info, next);

    const addDetails = el('details', {class: 'card collapsible', id: 'memory-add', open: !isPhone()},
      el('summary', null, el('h2', {text: 'Add a memory'})), addForm);

    page.append(
      pageHeader('Memories', 'Everything stored for the admin owner. Memories of other keys\' owners are private to them.'),
      addDetails,
      el('section', {class: 'card'}, searchForm, summary, errorBox, list, pager));

    const load = (opts) => {
      if (opts && opts.tags) loadTags();
      if (memState.query) return doSearch();
      return loadList();
    };
    const reloadAll = () => load({tags: true});

    async function loadList() {
      clear(list).appendChild(el('div', {class: 'loading'}, el('span', {class: 'spinner'}), el('span', {text: 'Loading…'})));
      hideBox(errorBox);
      const params = new URLSearchParams({page: String(memState.page), page_size: String(memState.pageSize)});
      if (memState.tag) params.set('tag', memState.tag);
      try {
        const data = await api('GET', `/api/memories?${params}`);
        if (seq !== renderSeq) return;
        const mems = (data && data.memories) || [];
        const total = typeof data.total === 'number' ? data.total : mems.length;
        clear(list);
        if (!mems.length) {
          list.appendChild(el('p', {class: 'empty', text: memState.tag ? `No memories tagged “${memState.tag}”.` : 'No memories yet. Add the first one above.'}));
        }
        for (const m of mems) list.appendChild(memoryCard(m, null, reloadAll, loadTags));
        summary.textContent = memState.tag ? `${plural(total, 'memory', 'memories')} tagged “${memState.tag}”` : `${plural(total, 'memory', 'memories')}`;
        const pages = Math.max(1, Math.ceil(total / memState.pageSize));
        pager.hidden = pages <= 1 && memState.page <= 1;
        info.textContent = `Page ${memState.page} of ${pages}`;
        prev.disabled = memState.page <= 1;
        next.disabled = !(data.has_more ?? memState.page < pages);
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(list);
        pager.hidden = true;
        summary.textContent = '';
        showError(errorBox, err, 'The memory list (/api/memories)');
      }
    }

    async function doSearch() {
      clear(list).appendChild(el('div', {class: 'loading'}, el('span', {class: 'spinner'}), el('span', {text: 'Searching…'})));
      hideBox(errorBox);
      pager.hidden = true;
      setBusy(searchBtn, true);
      try {
        const data = await api('POST', '/api/search', {query: memState.query, n_results: 20});
        if (seq !== renderSeq) return;
        const results = (data && data.results) || [];
        clear(list);
        const shown = memState.tag ? results.filter((r) => r.memory && (r.memory.tags || []).includes(memState.tag)) : results;
        if (!shown.length) list.appendChild(el('p', {class: 'empty', text: `Nothing found for “${memState.query}”.`}));
        for (const r of shown) if (r && r.memory) list.appendChild(memoryCard(r.memory, r, reloadAll, loadTags));
        const ms = typeof data.processing_time_ms === 'number' ? ` in ${Math.round(data.processing_time_ms)} ms` : '';
        summary.textContent = `${plural(shown.length, 'result')} for “${memState.query}”${data.search_type ? ` (${data.search_type} search${ms})` : ms}`;
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(list);
        summary.textContent = '';
        showError(errorBox, err, 'Search (/api/search)');
      } finally {
        setBusy(searchBtn, false);
      }
    }

    async function loadTags() {
      try {
        const data = await api('GET', '/api/tags');
        if (seq !== renderSeq) return;
        const tagsList = (data && data.tags) || [];
        while (tagFilter.options.length > 1) tagFilter.remove(1);
        for (const t of tagsList) {
          const name = typeof t === 'string' ? t : t.tag;
          const count = typeof t === 'object' && typeof t.count === 'number' ? ` (${t.count})` : '';
          if (name) tagFilter.appendChild(el('option', {value: name, text: `${name}${count}`}));
        }
        if (memState.tag) {
          if (![...tagFilter.options].some((o) => o.value === memState.tag)) tagFilter.appendChild(el('option', {value: memState.tag, text: memState.tag}));
          tagFilter.value = memState.tag;
        }
      } catch (err) {
        if (err.status === 404) {
          tagFilter.disabled = true;
          tagFilter.title = 'Tag filter not available (/api/tags answered 404)';
          tagFilter.options[0].textContent = 'Tags not available';
        }
      }
    }

    searchForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      memState.query = q.value.trim();
      clearBtn.hidden = !memState.query;
      memState.page = 1;
      load();
    });
    clearBtn.addEventListener('click', () => {
      q.value = '';
      memState.query = '';
      clearBtn.hidden = true;
      memState.page = 1;
      load();
    });
    tagFilter.addEventListener('change', () => {
      memState.tag = tagFilter.value;
      memState.page = 1;
      load();
    });
    prev.addEventListener('click', () => { if (memState.page > 1) { memState.page -= 1; load(); } });
    next.addEventListener('click', () => { memState.page += 1; load(); });

    addForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      hideBox(addResult);
      const text = content.value.trim();
      if (!text) { showError(addResult, new ApiError(400, 'Write the memory\'s content first.')); content.focus(); return; }
      const body = {content: text, tags: parseTags(tags.value)};
      if (type.value.trim()) body.memory_type = type.value.trim();
      setBusy(addBtn, true, 'Saving…');
      try {
        const res = await api('POST', '/api/memories', body);
        if (res && res.success === false) {
          addResult.className = 'alert alert-warn';
          addResult.hidden = false;
          clear(addResult).append(icon('warn'), el('span', {text: 'Already stored: a memory with exactly this content exists, so nothing was added.'}));
          addResult.dataset.testid = 'duplicate';
        } else {
          content.value = '';
          tags.value = '';
          toast('Memory stored');
          if (!memState.query) { memState.page = 1; }
          reloadAll();
        }
      } catch (err) {
        showError(addResult, err, 'Adding memories (/api/memories)');
      } finally {
        setBusy(addBtn, false);
      }
    });

    loadTags();
    load();
  }

  function memoryCard(m, result, reload, onTagsChanged) {
    const hash = m.content_hash || '';
    const tagsWrap = el('div', {class: 'memory-tags-wrap'}, chips(m.tags, 'memory-tags'));
    const editBtn = button('Tags', {class: 'btn btn-ghost btn-small memory-edit-tags', title: 'Edit tags'}, 'tag');
    const delBtn = button('Delete', {class: 'btn btn-ghost btn-small btn-danger-ghost memory-delete', title: 'Delete this memory'}, 'trash');
    const card = el('article', {class: 'memory-item', dataset: {hash}, testid: 'memory-item'},
      el('p', {class: 'memory-content', text: m.content || ''}),
      tagsWrap,
      el('div', {class: 'memory-foot'},
        el('div', {class: 'memory-meta muted small'},
          m.memory_type ? el('span', {class: 'badge', text: m.memory_type}) : null,
          el('span', {text: fmtDate(m.created_at_iso || m.created_at), title: m.updated_at_iso && m.updated_at_iso !== m.created_at_iso ? `updated ${fmtDate(m.updated_at_iso)}` : ''}),
          result && typeof result.similarity_score === 'number'
            ? el('span', {class: 'memory-score', title: result.relevance_reason || '', text: `score ${result.similarity_score.toFixed(2)}`}) : null,
          el('code', {class: 'hash', text: hash.slice(0, 10), title: hash})),
        el('div', {class: 'memory-actions'}, editBtn, delBtn)));

    editBtn.addEventListener('click', () => {
      if (card.querySelector('.memory-tags-input')) return;
      const inp = el('input', {class: 'input memory-tags-input', value: (m.tags || []).join(', '), 'aria-label': 'Tags, comma-separated', placeholder: 'tag1, tag2'});
      const save = button('Save', {type: 'submit', class: 'btn btn-primary btn-small memory-tags-save'});
      const cancel = button('Cancel', {class: 'btn btn-ghost btn-small memory-tags-cancel'});
      const err = alertBox('');
      err.removeAttribute('id');
      const form = el('form', {class: 'tag-edit'}, inp, save, cancel);
      clear(tagsWrap).append(form, err);
      inp.focus();
      cancel.addEventListener('click', () => { clear(tagsWrap).appendChild(chips(m.tags, 'memory-tags')); });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        setBusy(save, true);
        try {
          const res = await api('PUT', `/api/memories/${encodeURIComponent(hash)}`, {tags: parseTags(inp.value)});
          m.tags = (res && res.memory && res.memory.tags) || parseTags(inp.value);
          clear(tagsWrap).appendChild(chips(m.tags, 'memory-tags'));
          toast('Tags saved');
          if (onTagsChanged) onTagsChanged();
        } catch (e) {
          showError(err, e);
          setBusy(save, false);
        }
      });
    });

    delBtn.addEventListener('click', async () => {
      const preview = (m.content || '').slice(0, 80);
      if (!(await confirmAction(`Delete this memory? “${preview}${(m.content || '').length > 80 ? '…' : ''}” This cannot be undone.`))) return;
      setBusy(delBtn, true);
      try {
        await api('DELETE', `/api/memories/${encodeURIComponent(hash)}`);
        card.classList.add('removing');
        toast('Memory deleted');
        setTimeout(reload, 150);
      } catch (e) {
        setBusy(delBtn, false);
        if (!e.handled) toast(e.detail, 'error');
      }
    });
    return card;
  }

  // ---------------------------------------------------------------------------------
  // Documents

  function renderDocuments(seq) {
    const page = newView('page-documents');
    const file = el('input', {id: 'doc-file', name: 'file', type: 'file', class: 'file-input',
      accept: '.txt,.md,.markdown,.html,.htm,.json,.csv,.pdf,text/plain,text/markdown,text/html,application/json,text/csv,application/pdf'});
    const fileLabel = el('label', {for: 'doc-file', class: 'dropzone'},
      icon('upload', 'icon-lg'),
      el('span', {class: 'dropzone-title', id: 'doc-file-name', text: 'Choose a file or drop it here'}),
      el('span', {class: 'muted small', text: 'Text, Markdown, HTML, JSON, CSV or PDF · up to 10 MB'}));
    const tags = input('doc-tags', {placeholder: 'manuals, project-x'});
    const submit = button('Upload', {type: 'submit', id: 'doc-upload-submit', class: 'btn btn-primary'}, 'upload');
    const progress = el('progress', {id: 'doc-progress', class: 'progress', max: 100, value: 0, hidden: true});
    const status = el('p', {id: 'doc-upload-status', class: 'small muted', 'aria-live': 'polite'});
    const uploadError = alertBox('doc-upload-error');
    const form = el('form', {id: 'doc-upload-form', class: 'stack', novalidate: true},
      file, fileLabel, field('Tags', tags, 'Comma-separated; every chunk of the document gets them.'),
      progress, status, uploadError, el('div', {class: 'form-actions'}, submit));
    const listError = alertBox('documents-error');
    const list = el('ul', {id: 'document-list', class: 'rows'}, loadingRow());

    page.append(
      pageHeader('Documents', 'Upload files: memgate splits them into chunks and stores each as a searchable memory.'),
      el('section', {class: 'card'}, el('h2', {text: 'Upload a document'}), form),
      el('section', {class: 'card'}, el('div', {class: 'card-head'}, el('h2', {text: 'Stored documents'}), el('span', {id: 'documents-count', class: 'muted small'})), listError, list));

    const showName = () => {
      const f = file.files && file.files[0];
      $('doc-file-name').textContent = f ? `${f.name} · ${fmtBytes(f.size)}` : 'Choose a file or drop it here';
      fileLabel.classList.toggle('has-file', !!f);
    };
    file.addEventListener('change', showName);
    for (const evName of ['dragenter', 'dragover']) fileLabel.addEventListener(evName, (e) => { e.preventDefault(); fileLabel.classList.add('drag'); });
    for (const evName of ['dragleave', 'drop']) fileLabel.addEventListener(evName, () => fileLabel.classList.remove('drag'));
    fileLabel.addEventListener('drop', (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) { file.files = e.dataTransfer.files; showName(); }
    });

    async function loadDocs() {
      try {
        const data = await api('GET', '/api/documents');
        if (seq !== renderSeq) return;
        hideBox(listError);
        const docs = (data && data.documents) || [];
        clear(list);
        $('documents-count').textContent = docs.length ? plural(docs.length, 'document') : '';
        if (!docs.length) list.appendChild(emptyState('No documents yet.'));
        for (const d of docs) list.appendChild(documentRow(d, loadDocs));
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(list);
        showError(listError, err, 'Documents (/api/documents)');
        if (err.unavailable) { submit.disabled = true; }
      }
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      hideBox(uploadError);
      const f = file.files && file.files[0];
      if (!f) { showError(uploadError, new ApiError(400, 'Choose a file to upload first.')); return; }
      if (f.size > 10 * 1024 * 1024) { showError(uploadError, new ApiError(413, `${f.name} is ${fmtBytes(f.size)}; documents are limited to 10 MB.`)); return; }
      const fd = new FormData();
      fd.append('file', f, f.name);
      const tagList = parseTags(tags.value);
      if (tagList.length) fd.append('tags', tagList.join(','));
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/api/documents');
      xhr.withCredentials = true;
      xhr.setRequestHeader('accept', 'application/json');
      progress.hidden = false;
      progress.value = 0;
      progress.removeAttribute('data-done');
      status.textContent = `Uploading ${f.name}…`;
      setBusy(submit, true, 'Uploading…');
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          const pct = Math.round((e.loaded / e.total) * 100);
          progress.value = pct;
          status.textContent = pct < 100 ? `Uploading ${f.name}… ${pct}%` : `Processing ${f.name}: extracting text and indexing chunks…`;
        }
      };
      const finish = () => { setBusy(submit, false); };
      xhr.onerror = () => {
        finish();
        progress.hidden = true;
        status.textContent = '';
        showError(uploadError, new ApiError(0, 'The upload failed: memgate could not be reached.'));
      };
      xhr.onload = () => {
        finish();
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) {
          progress.value = 100;
          progress.dataset.done = '1';
          const d = (data && data.document) || {};
          status.textContent = `Stored “${d.title || f.name}” as ${plural(Number(d.chunks) || 0, 'chunk')}.`;
          toast('Document uploaded');
          form.reset();
          showName();
          loadDocs();
          return;
        }
        progress.hidden = true;
        status.textContent = '';
        const err = new ApiError(xhr.status, detailOf(data) || statusText(xhr.status));
        if (xhr.status === 401) { err.handled = true; sessionLost(err.detail); return; }
        showError(uploadError, err, 'Document upload (/api/documents)');
      };
      xhr.send(fd);
    });

    loadDocs();
  }

  function documentRow(d, reload) {
    const del = button('Delete', {class: 'btn btn-ghost btn-small btn-danger-ghost document-delete'}, 'trash');
    del.addEventListener('click', async () => {
      if (!(await confirmAction(`Delete “${d.title || d.filename || d.id}” and all ${plural(Number(d.chunks) || 0, 'chunk')} stored from it?`))) return;
      setBusy(del, true);
      try {
        await api('DELETE', `/api/documents/${encodeURIComponent(d.id)}`);
        toast('Document deleted');
        reload();
      } catch (e) {
        setBusy(del, false);
        if (!e.handled) toast(e.detail, 'error');
      }
    });
    const tagList = Array.isArray(d.tags) ? d.tags : [];
    return el('li', {class: 'row document-item', dataset: {id: d.id || ''}, testid: 'document-item'},
      el('div', {class: 'row-main'},
        el('span', {class: 'row-title document-title', text: d.title || d.filename || d.id}),
        el('span', {class: 'row-sub muted small'},
          [d.format ? String(d.format).toUpperCase() : null, fmtBytes(Number(d.size)), plural(Number(d.chunks) || 0, 'chunk'), fmtDate(d.created_at)]
            .filter(Boolean).join(' · ')),
        tagList.length ? chips(tagList, 'chips-small') : null),
      el('div', {class: 'row-actions'}, del));
  }

  // ---------------------------------------------------------------------------------
  // API keys

  const SCOPES = [
    ['chat', 'Chat', 'OpenAI-compatible gateway'],
    ['memory:read', 'Read memories', 'list, search, events'],
    ['memory:write', 'Write memories', 'store, edit, delete, upload'],
    ['admin', 'Admin', 'keys, settings, usage'],
  ];

  function renderKeys(seq) {
    const page = newView('page-keys');
    const name = input('key-name', {required: true, maxLength: 100, placeholder: 'laptop, home assistant…'});
    const owner = input('key-owner', {placeholder: 'admin', pattern: '[A-Za-z0-9_.@-]+'});
    const scopeBoxes = SCOPES.map(([s, label, hint]) => {
      const id = `key-scope-${s.replace(':', '-')}`;
      const cb = el('input', {type: 'checkbox', id, value: s, defaultChecked: s !== 'admin'});
      return el('label', {class: 'check', for: id}, cb, el('span', null, el('strong', {text: label}), el('span', {class: 'muted small', text: ` ${hint}`})));
    });
    const rpm = input('key-rpm', {type: 'number', min: 1, step: 1, placeholder: 'unlimited', inputMode: 'numeric'});
    const quota = input('key-quota', {type: 'number', min: 1, step: 1, placeholder: 'unlimited', inputMode: 'numeric'});
    const expires = input('key-expires', {type: 'date'});
    const error = alertBox('key-create-error');
    const submit = button('Create key', {type: 'submit', id: 'key-create-submit', class: 'btn btn-primary'}, 'plus');
    const onceSlot = el('div', {id: 'key-once-slot'});
    const form = el('form', {id: 'key-create-form', class: 'stack', novalidate: true},
      el('div', {class: 'row-2'}, field('Name', name), field('Owner', owner, 'Memories are private per owner. Default: admin.')),
      el('fieldset', {class: 'checks'}, el('legend', {text: 'Scopes'}), scopeBoxes),
      el('div', {class: 'row-3'},
        field('Requests per minute', rpm), field('Daily token quota', quota), field('Expires on', expires, 'Optional; end of that day, local time.')),
      error,
      el('div', {class: 'form-actions'}, submit));
    const listError = alertBox('keys-error');
    const list = el('ul', {id: 'key-list', class: 'rows'}, loadingRow());

    page.append(
      pageHeader('API keys', 'Keys authenticate the memory API, MCP clients and the OpenAI-compatible gateway.'),
      onceSlot,
      el('details', {class: 'card collapsible', id: 'key-create', open: !isPhone()}, el('summary', null, el('h2', {text: 'Create a key'})), form),
      el('section', {class: 'card'}, el('div', {class: 'card-head'}, el('h2', {text: 'Keys'}), el('span', {id: 'keys-count', class: 'muted small'})), listError, list));

    async function loadKeys() {
      try {
        const data = await api('GET', '/admin/keys');
        if (seq !== renderSeq) return;
        hideBox(listError);
        const keys = ((data && data.keys) || []).slice().sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
        clear(list);
        $('keys-count').textContent = keys.length ? plural(keys.length, 'key') : '';
        if (!keys.length) list.appendChild(emptyState('No keys.'));
        for (const k of keys) list.appendChild(keyRow(k, loadKeys));
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(list);
        showError(listError, err, 'Key administration (/admin/keys)');
      }
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      hideBox(error);
      const fail = (msg, f) => { showError(error, new ApiError(400, msg)); if (f) f.focus(); };
      if (!name.value.trim()) return fail('Give the key a name.', name);
      const scopes = scopeBoxes.map((l) => l.querySelector('input')).filter((c) => c.checked).map((c) => c.value);
      if (!scopes.length) return fail('Choose at least one scope.');
      const body = {name: name.value.trim(), scopes};
      if (owner.value.trim()) body.owner = owner.value.trim();
      if (rpm.value !== '') {
        const n = Number(rpm.value);
        if (!Number.isInteger(n) || n < 1) return fail('Requests per minute must be a whole number of at least 1.', rpm);
        body.rpm_limit = n;
      }
      if (quota.value !== '') {
        const n = Number(quota.value);
        if (!Number.isInteger(n) || n < 1) return fail('The daily token quota must be a whole number of at least 1.', quota);
        body.daily_token_quota = n;
      }
      if (expires.value) {
        const [y, m, d] = expires.value.split('-').map(Number);
        const t = new Date(y, m - 1, d, 23, 59, 59).getTime() / 1000;
        if (!(t > Date.now() / 1000)) return fail('The expiry date must be in the future.', expires);
        body.expires_at = Math.floor(t);
      }
      setBusy(submit, true, 'Creating…');
      try {
        const res = await api('POST', '/admin/keys', body);
        form.reset();
        clear(onceSlot).appendChild(secretOnce('key-once', `New key “${res.name || body.name}”`, res.key || '', () => clear(onceSlot)));
        onceSlot.scrollIntoView({block: 'nearest'});
        toast('Key created');
        loadKeys();
      } catch (err) {
        showError(error, err, 'Key administration (/admin/keys)');
      } finally {
        setBusy(submit, false);
      }
    });

    loadKeys();
  }

  function keyRow(k, reload) {
    const revoke = button('Revoke', {class: 'btn btn-ghost btn-small btn-danger-ghost key-revoke'}, 'trash');
    revoke.addEventListener('click', async () => {
      if (!(await confirmAction(`Revoke “${k.name}” (${k.prefix}…)? Clients using it stop working immediately.`, 'Revoke'))) return;
      setBusy(revoke, true);
      try {
        await api('DELETE', `/admin/keys/${encodeURIComponent(k.id)}`);
        toast('Key revoked');
        reload();
      } catch (e) {
        setBusy(revoke, false);
        if (!e.handled) toast(e.detail, 'error');
      }
    });
    const expired = k.expires_at && k.expires_at * 1000 < Date.now();
    const limits = [
      k.rpm_limit ? `${fmtNum(k.rpm_limit)} req/min` : null,
      k.daily_token_quota ? `${fmtNum(k.daily_token_quota)} tokens/day` : null,
    ].filter(Boolean);
    return el('li', {class: 'row key-item', dataset: {id: k.id || ''}, testid: 'key-item'},
      el('div', {class: 'row-main'},
        el('div', {class: 'row-title-line'},
          el('span', {class: 'row-title key-name', text: k.name || k.id}),
          el('code', {class: 'key-prefix', text: `${k.prefix || ''}…`, title: 'Only the prefix of a key is kept for display'}),
          expired ? el('span', {class: 'badge badge-danger', text: 'expired'}) : null),
        el('span', {class: 'row-sub muted small'},
          [`owner ${k.owner || '—'}`, `created ${fmtDay(k.created_at)}`,
            k.expires_at ? `${expired ? 'expired' : 'expires'} ${fmtDay(k.expires_at)}` : null,
            k.last_used_at ? `last used ${fmtRelative(k.last_used_at)}` : null,
            limits.length ? limits.join(', ') : null].filter(Boolean).join(' · ')),
        chips(k.scopes, 'chips-small')),
      el('div', {class: 'row-actions'}, revoke));
  }

  // ---------------------------------------------------------------------------------
  // Settings

  const SECRET_MARK = '********';

  function renderSettings(seq) {
    const page = newView('page-settings');
    const loadingBox = el('div', {class: 'card loading'}, el('span', {class: 'spinner'}), el('span', {text: 'Loading settings…'}));
    const errorBox = alertBox('settings-load-error');
    page.append(pageHeader('Settings', 'Providers, prompts, retrieval and drawing. Changes apply to the next request.'), errorBox, loadingBox);
    api('GET', '/admin/config').then((cfg) => {
      if (seq !== renderSeq) return;
      loadingBox.remove();
      page.appendChild(settingsForm(cfg || {}));
    }).catch((err) => {
      if (seq !== renderSeq) return;
      loadingBox.remove();
      showError(errorBox, err, 'Settings (/admin/config)');
    });
  }

  function settingsForm(cfg) {
    const chat = cfg.chat || {}; const emb = cfg.embeddings || {}; const rag = cfg.rag || {}; const drawing = cfg.drawing || {};
    const v = (x) => (x === null || x === undefined ? '' : String(x));
    const secretInput = (id, value) => {
      const i = input(id, {type: 'password', autocomplete: 'new-password', value: v(value), placeholder: 'not set'});
      return i;
    };
    const f = {
      chatProvider: select('cfg-chat-provider', [['workers-ai', 'Workers AI'], ['openai', 'OpenAI-compatible']], chat.provider),
      chatBase: input('cfg-chat-base-url', {type: 'url', value: v(chat.base_url), placeholder: 'https://api.openai.com/v1'}),
      chatKey: secretInput('cfg-chat-api-key', chat.api_key),
      chatModel: input('cfg-chat-model', {value: v(chat.model)}),
      embProvider: select('cfg-emb-provider', [['workers-ai', 'Workers AI'], ['openai', 'OpenAI-compatible'], ['hashing', 'Hashing (offline, built in)']], emb.provider),
      embBase: input('cfg-emb-base-url', {type: 'url', value: v(emb.base_url), placeholder: 'https://api.openai.com/v1'}),
      embKey: secretInput('cfg-emb-api-key', emb.api_key),
      embModel: input('cfg-emb-model', {value: v(emb.model), placeholder: 'provider default'}),
      embDims: input('cfg-emb-dimensions', {type: 'number', min: 1, value: v(emb.dimensions), placeholder: '768'}),
      publicName: input('cfg-public-model-name', {value: v(cfg.public_model_name)}),
      prompt: el('textarea', {id: 'cfg-system-prompt', class: 'input', rows: 4, value: v(cfg.system_prompt)}),
      maxConv: input('cfg-max-conversations', {type: 'number', min: 1, max: 10000, value: v(cfg.max_conversations)}),
      ttl: input('cfg-conversation-ttl-days', {type: 'number', min: 1, max: 3650, value: v(cfg.conversation_ttl_days)}),
      ragEnabled: el('input', {type: 'checkbox', id: 'cfg-rag-enabled', checked: !!rag.enabled}),
      ragTopK: input('cfg-rag-top-k', {type: 'number', min: 1, max: 50, value: v(rag.top_k)}),
      ragMin: input('cfg-rag-min-score', {type: 'number', min: 0, max: 1, step: 0.01, value: v(rag.min_score)}),
      drawEnabled: el('input', {type: 'checkbox', id: 'cfg-drawing-enabled', checked: !!drawing.enabled}),
      drawTriggers: input('cfg-drawing-triggers', {value: (drawing.triggers || []).join(', ')}),
      drawModel: input('cfg-drawing-model', {value: v(drawing.model)}),
    };
    f.prompt.value = v(cfg.system_prompt);
    const error = alertBox('settings-error');
    const saved = el('span', {id: 'settings-saved', class: 'saved', hidden: true, text: 'Saved'});
    const save = button('Save settings', {type: 'submit', id: 'settings-save', class: 'btn btn-primary'});
    const secretHint = 'Shown as ******** when set. Leave as is to keep it, clear it to remove it.';
    const toggle = (cb, label, hint) => el('label', {class: 'check', for: cb.id}, cb, el('span', null, el('strong', {text: label}), hint ? el('span', {class: 'muted small', text: ` ${hint}`}) : null));

    const chatSection = el('fieldset', {class: 'fieldset'}, el('legend', {text: 'Chat provider'}),
      el('div', {class: 'row-2'}, field('Provider', f.chatProvider), field('Model', f.chatModel)),
      el('div', {class: 'row-2 openai-only', dataset: {for: 'chat'}}, field('Base URL', f.chatBase), field('API key', f.chatKey, secretHint)));
    const embSection = el('fieldset', {class: 'fieldset'}, el('legend', {text: 'Embeddings provider'}),
      el('div', {class: 'row-2'}, field('Provider', f.embProvider), field('Model', f.embModel)),
      el('div', {class: 'row-2 openai-only', dataset: {for: 'emb'}}, field('Base URL', f.embBase), field('API key', f.embKey, secretHint)),
      el('div', {class: 'row-2'}, field('Dimensions', f.embDims, 'Must match the vector index (768).'), el('div')));
    const sync = () => {
      chatSection.querySelector('.openai-only').hidden = f.chatProvider.value !== 'openai';
      embSection.querySelector('.openai-only').hidden = f.embProvider.value !== 'openai';
    };
    f.chatProvider.addEventListener('change', sync);
    f.embProvider.addEventListener('change', sync);
    sync();

    const form = el('form', {id: 'settings-form', class: 'card stack', novalidate: true},
      chatSection,
      embSection,
      el('fieldset', {class: 'fieldset'}, el('legend', {text: 'Gateway'}),
        el('div', {class: 'row-3'},
          field('Public model name', f.publicName, 'What clients see in /v1/models.'),
          field('Max conversations', f.maxConv, 'Per owner.'),
          field('Conversation TTL (days)', f.ttl)),
        field('System prompt', f.prompt)),
      el('fieldset', {class: 'fieldset'}, el('legend', {text: 'Retrieval (RAG)'}),
        toggle(f.ragEnabled, 'Use memories in chat', 'Relevant memories are added to the prompt.'),
        el('div', {class: 'row-2'}, field('Memories per request (top k)', f.ragTopK), field('Minimum score (0–1)', f.ragMin))),
      el('fieldset', {class: 'fieldset'}, el('legend', {text: 'Drawing'}),
        toggle(f.drawEnabled, 'Enable image generation in chat'),
        el('div', {class: 'row-2'}, field('Trigger words', f.drawTriggers, 'Comma-separated.'), field('Image model', f.drawModel))),
      error,
      el('div', {class: 'form-actions'}, saved, save));

    const num = (inp) => (inp.value.trim() === '' ? null : Number(inp.value));
    const secret = (inp) => (inp.value === '' ? null : inp.value);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      hideBox(error);
      saved.hidden = true;
      const patch = {
        chat: {provider: f.chatProvider.value, model: f.chatModel.value.trim(),
          base_url: f.chatBase.value.trim() || null, api_key: secret(f.chatKey)},
        embeddings: {provider: f.embProvider.value, model: f.embModel.value.trim() || null,
          base_url: f.embBase.value.trim() || null, api_key: secret(f.embKey), dimensions: num(f.embDims)},
        public_model_name: f.publicName.value.trim(),
        system_prompt: f.prompt.value,
        max_conversations: num(f.maxConv),
        conversation_ttl_days: num(f.ttl),
        rag: {enabled: f.ragEnabled.checked, top_k: num(f.ragTopK), min_score: num(f.ragMin)},
        drawing: {enabled: f.drawEnabled.checked, triggers: parseTags(f.drawTriggers.value), model: f.drawModel.value.trim()},
      };
      for (const [k, val] of [['max_conversations', patch.max_conversations], ['conversation_ttl_days', patch.conversation_ttl_days]]) {
        if (val === null || Number.isNaN(val)) { showError(error, new ApiError(400, `${k} needs a number.`)); return; }
      }
      if (patch.rag.top_k === null || Number.isNaN(patch.rag.top_k) || patch.rag.min_score === null || Number.isNaN(patch.rag.min_score)) {
        showError(error, new ApiError(400, 'Retrieval needs a top k and a minimum score.'));
        return;
      }
      setBusy(save, true, 'Saving…');
      try {
        const next = await api('PUT', '/admin/config', patch);
        if (next && next.chat) {
          f.chatKey.value = v(next.chat.api_key);
          if (next.embeddings) f.embKey.value = v(next.embeddings.api_key);
        }
        saved.hidden = false;
        toast('Settings saved');
      } catch (err) {
        showError(error, err, 'Saving settings (/admin/config)');
        error.scrollIntoView({block: 'nearest'});
      } finally {
        setBusy(save, false);
      }
    });
    for (const inp of form.querySelectorAll('input, select, textarea')) inp.addEventListener('input', () => { saved.hidden = true; });
    return form;
  }

  // ---------------------------------------------------------------------------------
  // Conversations

  const convState = {owner: '', selected: ''};

  function renderConversations(seq) {
    const page = newView('page-conversations');
    const owner = input('conv-owner-filter', {placeholder: 'All owners', value: convState.owner, 'aria-label': 'Owner'});
    const filterBtn = button('Filter', {type: 'submit', id: 'conv-filter-submit', class: 'btn'});
    const form = el('form', {id: 'conv-filter-form', class: 'toolbar'}, owner, filterBtn);
    const errorBox = alertBox('conversations-error');
    const list = el('ul', {id: 'conversation-list', class: 'conv-list'}, loadingRow());
    const detail = el('section', {id: 'conversation-detail', class: 'card conv-detail'},
      el('p', {class: 'empty', text: 'Choose a conversation to read it.'}));
    page.append(
      pageHeader('Conversations', 'Chats held through the gateway with a conversation id.'),
      el('div', {class: 'split'},
        el('section', {class: 'card'}, form, errorBox, list),
        detail));

    async function loadList() {
      clear(list).appendChild(loadingRow());
      hideBox(errorBox);
      const qs = convState.owner ? `?owner=${encodeURIComponent(convState.owner)}` : '';
      try {
        const data = await api('GET', `/admin/conversations${qs}`);
        if (seq !== renderSeq) return;
        const convs = (data && data.conversations) || [];
        clear(list);
        if (!convs.length) list.appendChild(emptyState(convState.owner ? `No conversations for “${convState.owner}”.` : 'No conversations yet.'));
        for (const c of convs) {
          const b = el('button', {type: 'button', class: 'conv-button'},
            el('span', {class: 'conv-title', text: c.title || c.id}),
            el('span', {class: 'muted small', text: `${c.owner || '—'} · ${plural(Number(c.message_count) || 0, 'message')} · ${fmtRelative(c.updated_at)}`}));
          const li = el('li', {class: 'conversation-item', dataset: {id: c.id}, testid: 'conversation-item'}, b);
          if (c.id === convState.selected) li.classList.add('selected');
          b.addEventListener('click', () => {
            for (const x of list.querySelectorAll('.selected')) x.classList.remove('selected');
            li.classList.add('selected');
            convState.selected = c.id;
            loadDetail(c.id);
          });
          list.appendChild(li);
        }
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(list);
        showError(errorBox, err, 'Conversations (/admin/conversations)');
      }
    }

    async function loadDetail(id) {
      clear(detail).appendChild(el('div', {class: 'loading'}, el('span', {class: 'spinner'}), el('span', {text: 'Loading…'})));
      try {
        const c = await api('GET', `/admin/conversations/${encodeURIComponent(id)}`);
        if (seq !== renderSeq) return;
        clear(detail);
        detail.append(
          el('div', {class: 'card-head'}, el('h2', {text: `Conversation ${id}`}), el('span', {class: 'muted small', text: `owner ${c.owner || '—'}`})));
        const msgs = el('div', {class: 'messages'});
        for (const m of (c.messages || [])) {
          const role = String(m.role || 'unknown');
          msgs.appendChild(el('div', {class: `message message-${['user', 'assistant', 'system'].includes(role) ? role : 'other'}`, dataset: {role}},
            el('div', {class: 'message-meta muted small'}, el('strong', {text: role}), ' · ', fmtDate(m.created_at)),
            el('p', {class: 'message-content', text: m.content || ''})));
        }
        if (!msgs.children.length) msgs.appendChild(el('p', {class: 'empty', text: 'No messages.'}));
        detail.appendChild(msgs);
        if (isPhone()) detail.scrollIntoView({block: 'start'});
      } catch (err) {
        if (seq !== renderSeq) return;
        clear(detail);
        const box = el('div', {class: 'alert'});
        detail.appendChild(box);
        showError(box, err, 'Conversation detail (/admin/conversations/{id})');
      }
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      convState.owner = owner.value.trim();
      loadList();
    });
    loadList();
    if (convState.selected) loadDetail(convState.selected);
  }

  // ---------------------------------------------------------------------------------
  // Wiring

  window.addEventListener('hashchange', () => { if (state.authed) render(); });
  document.addEventListener('DOMContentLoaded', () => {
    $('logout-button').addEventListener('click', logout);
    $('confirm-dialog').addEventListener('close', () => {
      const r = confirmResolve;
      confirmResolve = null;
      if (r) r($('confirm-dialog').returnValue === 'ok');
    });
    boot();
  });
})();
