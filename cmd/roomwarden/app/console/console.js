// roomwarden console. Every piece of data reaches the page through
// textContent or createTextNode, never through markup parsing: rule and
// event text is shown, never interpreted. The bearer token lives in sessionStorage and
// only ever goes out as an Authorization header.
'use strict';

(() => {
  const TOKEN_KEY = 'roomwarden.token';
  const STATE_EVERY_MS = 5000;
  const MAX_ACTIONS = 200;
  const $ = (id) => document.getElementById(id);

  let state = null;   // the last GET /console/state
  let pending = null; // {run, cancel}: what waits for the token form

  // el builds an element: el('span', {class: 'x', title: 't'}, 'text', child).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // cell is a table cell with its column name for the stacked phone layout.
  function cell(label, cls, ...children) {
    return el('td', {'data-label': label, class: cls}, el('div', null, ...children));
  }

  function chip(text, kind) {
    return el('span', {class: 'chip o-' + String(kind).replace(/[^a-z_]/g, '')}, text);
  }

  function fmtNum(n) { return Number(n || 0).toLocaleString('en-US'); }

  function fmtTime(s) {
    const d = new Date(s);
    if (isNaN(d)) return '';
    return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});
  }

  function fmtAgo(s) {
    const ms = Date.now() - new Date(s).getTime();
    if (!isFinite(ms)) return '';
    const sec = Math.round(Math.abs(ms) / 1000);
    const txt = sec < 60 ? sec + ' s' : sec < 3600 ? Math.round(sec / 60) + ' min' : (sec / 3600).toFixed(1) + ' h';
    return ms >= 0 ? txt + ' ago' : 'in ' + txt;
  }

  function basename(p) { return String(p || '').split('/').pop(); }

  function notice(text, bad) {
    const n = $('notice');
    n.textContent = text;
    n.className = bad ? 'notice bad' : 'notice';
    n.hidden = !text;
  }

  // ---- token --------------------------------------------------------------

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  function showTokenButton() {
    $('token-button').textContent = token() ? 'Forget token' : 'Set token';
  }

  // askToken shows the token form; run is called once a token is saved,
  // cancel if the form is dismissed or asked for again.
  function askToken(run, cancel) {
    const prev = pending;
    pending = {run, cancel};
    if (prev && prev.cancel) prev.cancel();
    $('token-form').hidden = false;
    $('token-input').focus();
  }

  function endTokenForm(saved) {
    $('token-form').hidden = true;
    $('token-input').value = '';
    const p = pending;
    pending = null;
    if (!p) return;
    if (saved && p.run) p.run();
    if (!saved && p.cancel) p.cancel();
  }

  $('token-button').addEventListener('click', () => {
    if (token()) {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenButton();
      notice('Token forgotten.');
      return;
    }
    askToken(null, null);
  });
  $('token-cancel').addEventListener('click', () => endTokenForm(false));
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('token-input').value.trim();
    $('token-input').value = '';
    if (!v) return;
    sessionStorage.setItem(TOKEN_KEY, v);
    showTokenButton();
    notice('');
    endTokenForm(true);
  });

  // call sends a request with the token, if there is one. A guarded call
  // asks for the token first when the daemon requires one. A 401 forgets
  // the token and asks again.
  async function call(method, path, body, guarded, retry) {
    if (guarded && state && state.token_required && !token()) {
      return new Promise((resolve) => askToken(() => resolve(call(method, path, body, guarded, retry)),
        () => resolve({status: 0, ok: false, text: 'no token given'})));
    }
    const headers = {};
    if (token()) headers.Authorization = 'Bearer ' + token();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {method, headers, body, cache: 'no-store', credentials: 'omit', redirect: 'error'});
    const text = await res.text();
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenButton();
      notice('The daemon refused the token (401). Enter the bearer token of http.token_env.', true);
      askToken(retry || null, null);
    }
    return {status: res.status, ok: res.ok, text};
  }

  function answerText(r) {
    if (r.status === 0) return r.text;
    let msg = r.text.trim();
    try {
      const j = JSON.parse(msg);
      msg = j.error || j.message || j.result || msg;
      if (typeof msg !== 'string') msg = JSON.stringify(msg);
    } catch (_) { /* plain text */ }
    if (msg.length > 300) msg = msg.slice(0, 300) + '…';
    return r.status + (msg ? ': ' + msg : '');
  }

  // ---- live actions -------------------------------------------------------

  function actionItem(o, fresh) {
    const p = o.params || {};
    const flags = ['taken', 'video', 'audio'].filter((f) => p['forbid_' + f] !== undefined)
      .map((f) => f + (p['forbid_' + f] ? '' : ' off'));
    let what;
    if (o.action === 'label') what = 'label ' + (p.member || '') + ' → ' + (p.list || '');
    else what = o.action + ' ' + (p.room_id || '') + ' seat ' + (p.index ?? '') + (flags.length ? ' (' + flags.join(', ') + ')' : '');
    const meta = [fmtTime(o.time), 'event ' + o.event_id];
    if (o.for) meta.push('for ' + o.for);
    if (o.attempts) meta.push(o.attempts + (o.attempts === 1 ? ' attempt' : ' attempts'));
    if (o.latency_ms !== undefined) meta.push(Math.round(o.latency_ms) + ' ms');
    if (o.request_id) meta.push('request ' + o.request_id);
    const err = o.error_code || o.error_info ? (o.error_code ? o.error_code + ' ' : '') + (o.error_info || '') : '';
    return el('li', {class: 'action' + (fresh ? ' fresh' : ''), 'data-event': o.event_id, 'data-outcome': o.outcome},
      chip(o.outcome, o.outcome),
      el('span', {class: 'action-what'}, el('span', {class: 'rule-name'}, o.rule), ' · ', what),
      el('span', {class: 'action-meta'}, meta.join(' · ')),
      err ? el('span', {class: 'action-error'}, err) : null);
  }

  function addAction(o, fresh) {
    const list = $('actions');
    list.prepend(actionItem(o, fresh));
    while (list.children.length > MAX_ACTIONS) list.lastElementChild.remove();
    $('actions-empty').hidden = list.children.length > 0;
  }

  function setLive(text, cls) {
    const s = $('live-status');
    s.textContent = text;
    s.className = 'pill ' + cls;
  }

  function connect() {
    const es = new EventSource('/console/actions/stream');
    let backlog = true;
    es.addEventListener('open', () => {
      setLive('live', 'pill-live');
      refresh();
    });
    es.addEventListener('reset', () => {
      $('actions').replaceChildren();
      $('actions-empty').hidden = false;
      backlog = true;
    });
    es.addEventListener('ready', () => { backlog = false; });
    es.addEventListener('outcome', (ev) => {
      let o;
      try { o = JSON.parse(ev.data); } catch (_) { return; }
      addAction(o, !backlog);
    });
    es.addEventListener('dropped', () => setLive('catching up…', 'pill-wait'));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503: too many consoles): EventSource gives up, so retry here.
        setLive('offline, retrying', 'pill-down');
        setTimeout(connect, 5000);
      } else {
        setLive('reconnecting…', 'pill-wait');
      }
    });
  }

  // ---- state --------------------------------------------------------------

  function renderRules(st) {
    const body = $('rules').tBodies[0];
    const rows = st.rules.map((r) => {
      const mode = [];
      if (r.shadow_only) mode.push(chip('shadow', 'shadow'));
      else mode.push(r.enabled ? chip('enabled', 'succeeded') : chip('disabled', 'disabled'));
      if (r.dry_run) mode.push(chip('dry run', 'dry'));
      const acts = Object.entries(r.actions || {}).sort().map(([k, n]) => chip(k + ' ' + fmtNum(n), k));
      const where = r.file ? el('span', {class: 'mono', title: r.file + ':' + r.line}, basename(r.file) + ':' + r.line) : null;
      return el('tr', {class: r.enabled || r.shadow_only ? '' : 'off', 'data-rule': r.name},
        cell('Rule', '', el('span', {class: 'rule-name'}, r.name),
          r.description ? el('span', {class: 'desc'}, r.description) : null,
          el('span', {class: 'where'}, where, where && (r.on || []).length ? ' · on ' : '', (r.on || []).join(', '))),
        cell('Mode', '', ...mode),
        cell('Evaluated', 'num', fmtNum(r.evaluations)),
        cell('Matched', 'num', fmtNum(r.matches)),
        cell('Actions', '', ...(acts.length ? acts : ['–'])),
        cell('Errors', 'num', r.errors ? el('span', {class: 'bad'}, fmtNum(r.errors)) : '0'),
        cell('Shadow', 'num', fmtNum(r.shadow)));
    });
    body.replaceChildren(...rows);
    $('rules-hash').textContent = st.hash ? 'set ' + st.hash.slice(0, 12) : '';
  }

  function renderTripped(st) {
    const list = $('tripped');
    const keep = new Map([...list.children].map((li) => [li.dataset.rule, li]));
    const items = st.tripped.map((t) => {
      const old = keep.get(t.rule);
      if (old) return old; // keep the answer shown under its button
      const answer = el('span', {class: 'answer', 'aria-live': 'polite'});
      const btn = el('button', {type: 'button', class: 'reset'}, 'Reset');
      btn.addEventListener('click', () => resetRule(t.rule, btn, answer));
      return el('li', {'data-rule': t.rule}, el('span', {class: 'rule-name', title: t.key}, t.rule), chip('tripped', 'tripped'), btn, answer);
    });
    list.replaceChildren(...items);
    $('tripped-empty').hidden = items.length > 0;
  }

  async function resetRule(name, btn, answer) {
    btn.disabled = true;
    try {
      const r = await call('POST', '/rules/' + encodeURIComponent(name) + '/reset', undefined, true,
        () => resetRule(name, btn, answer));
      answer.textContent = (r.ok ? 'Reset: ' : 'Not reset: ') + answerText(r);
      answer.className = r.ok ? 'answer' : 'answer bad';
      if (r.ok) refresh();
    } catch (e) {
      answer.textContent = 'Not reset: ' + e.message;
      answer.className = 'answer bad';
    } finally {
      btn.disabled = false;
    }
  }

  function seat(x) { return x.room_id + ' seat ' + x.index + ' ' + x.flag; }

  function renderItems(id, items) {
    $(id).replaceChildren(...items);
    $(id + '-empty').hidden = items.length > 0;
  }

  function renderReload(r) {
    const facts = [
      ['Result', el('span', {class: r.ok ? 'ok' : 'bad'}, r.ok ? (r.changed ? 'loaded' : 'unchanged') : 'failed, previous rules still running')],
      ['When', fmtTime(r.time) + ' (' + fmtAgo(r.time) + ')'],
      ['Trigger', r.trigger],
      ['Rules', fmtNum(r.rules)],
      ['Hash', el('span', {class: 'mono'}, r.hash || '–')],
    ];
    $('reload').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
    $('reload-errors').replaceChildren(
      ...(r.errors || []).map((e) => el('li', null, e)),
      ...(r.warnings || []).map((w) => el('li', {class: 'warning'}, 'warning: ' + w)));
  }

  function renderTiles(st) {
    const actions = st.rules.reduce((n, r) => n + Object.values(r.actions || {}).reduce((a, b) => a + b, 0), 0);
    const live = st.rules.filter((r) => !r.shadow_only);
    $('tile-rules').textContent = fmtNum(live.length);
    $('tile-events').textContent = fmtNum(st.events_received);
    $('tile-actions').textContent = fmtNum(actions);
    $('tile-undos').textContent = fmtNum(st.pending_undos.length) + (st.pending_undos.length >= st.limit ? '+' : '');
    $('tile-tripped').textContent = fmtNum(st.tripped.length);
    $('tile-tripped').parentElement.classList.toggle('alert', st.tripped.length > 0);
  }

  function render(st) {
    state = st;
    // Without http.token_env the buttons need no token: nothing to set.
    $('token-button').hidden = !st.token_required && !token();
    renderTiles(st);
    renderRules(st);
    renderTripped(st);
    renderReload(st.reload);
    renderItems('undos', st.pending_undos.map((u) => el('li', null,
      el('span', {class: 'item-main'}, seat(u)),
      el('span', {class: 'item-meta', title: u.end}, 'unlocks ' + fmtAgo(u.end) + ' · ' + u.rule + ' · event ' + u.event_id))));
    renderItems('overrides', st.overrides.map((o) => el('li', null,
      el('span', {class: 'item-main'}, seat(o)),
      el('span', {class: 'item-meta', title: o.until}, 'held until ' + fmtTime(o.until) + ' (' + fmtAgo(o.until) + ')'))));
    $('refreshed').textContent = 'State refreshed at ' + fmtTime(st.now) +
      (st.state_error ? ' · state store: ' + st.state_error : '') +
      ' · live consoles ' + st.live.streams + ' of ' + st.live.max_streams;
  }

  let refreshes = 0;   // state requests sent
  let rendered = 0;    // the latest one rendered: an older answer arriving late is dropped

  async function refresh() {
    const seq = ++refreshes;
    try {
      const res = await fetch('/console/state', {cache: 'no-store', credentials: 'omit'});
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const st = await res.json();
      if (seq < rendered) return;
      rendered = seq;
      render(st);
    } catch (e) {
      $('refreshed').textContent = 'Could not refresh the state: ' + e.message;
    }
  }

  // ---- reload -------------------------------------------------------------

  async function reload() {
    const btn = $('reload-button');
    btn.disabled = true;
    try {
      const r = await call('POST', '/-/reload', undefined, true, reload);
      $('reload-answer').textContent = r.ok ? 'Reloaded.' : 'Reload failed: ' + answerText(r);
      refresh();
    } catch (e) {
      $('reload-answer').textContent = 'Reload failed: ' + e.message;
    } finally {
      btn.disabled = false;
    }
  }
  $('reload-button').addEventListener('click', reload);

  // ---- explain ------------------------------------------------------------

  function valueText(v) {
    return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, null, 0);
  }

  function renderExplain(ans) {
    const rules = ans.rules || [];
    const out = $('explain-result');
    if (rules.length === 0) {
      const type = ans.event && ans.event.type;
      out.replaceChildren(el('p', {class: 'empty'}, 'No rule listens to events of type ' + (type || '(none)') + '.'));
      return;
    }
    const rows = rules.map((r) => {
      const vals = Object.entries(r.values || {});
      return el('tr', {'data-rule': r.rule},
        cell('Rule', '', el('span', {class: 'rule-name'}, r.rule)),
        cell('Verdict', '', chip(r.verdict, r.verdict)),
        cell('Matched', '', r.matched ? 'yes' : 'no'),
        cell('Values', '', vals.length ? el('dl', {class: 'values'},
          ...vals.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, valueText(v))])) : '–'));
    });
    const table = el('table', {class: 'stack', id: 'explain-table'},
      el('thead', null, el('tr', null, ...['Rule', 'Verdict', 'Matched', 'Values'].map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', null, ...rows));
    out.replaceChildren(table);
  }

  $('explain-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const status = $('explain-status');
    const text = $('explain-input').value;
    try {
      JSON.parse(text);
    } catch (e) {
      status.textContent = 'Not JSON: ' + e.message;
      return;
    }
    status.textContent = 'Explaining…';
    try {
      const r = await call('POST', '/explain', text, false);
      if (!r.ok) {
        status.textContent = 'Explain failed: ' + answerText(r);
        $('explain-result').replaceChildren();
        return;
      }
      renderExplain(JSON.parse(r.text));
      status.textContent = '';
    } catch (e) {
      status.textContent = 'Explain failed: ' + e.message;
    }
  });

  // ---- start --------------------------------------------------------------

  showTokenButton();
  connect();
  refresh();
  setInterval(refresh, STATE_EVERY_MS);
})();
