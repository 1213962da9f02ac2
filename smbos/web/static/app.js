// SMBOS operator UI. Vanilla JavaScript, no build step, nothing loaded from elsewhere.
// Every action goes through the JSON API (/api/openapi.json); changing requests carry the UI token
// in the X-SMBOS-Token header. The token comes from the link `smbos ui` prints (#token=..., a URL
// fragment, never sent to a server) or is pasted once; it is kept in this browser's localStorage.
'use strict';

(function () {
  const TOKEN_KEY = 'smbos-ui-token';
  const POLL_MS = 2000;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // ------------------------------------------------------------------ token

  // The server says whether a token is right before this browser keeps it, so a link with a
  // wrong token never replaces a good one; the same call gives the cookie that opens the pages
  // when the UI listens beyond this machine.
  async function checkToken(value) {
    let response;
    try {
      response = await fetch('/api/session', { method: 'POST', cache: 'no-store', credentials: 'same-origin',
        headers: { 'Accept': 'application/json', 'X-SMBOS-Token': value } });
    } catch (e) {
      return { ok: false, message: 'the UI server does not answer (' + e.message + ')' };
    }
    if (response.ok) return { ok: true };
    let message = 'HTTP ' + response.status;
    try {
      const data = await response.json();
      if (data && data.error) message = data.error;
    } catch (e) { /* not JSON */ }
    return { ok: false, message };
  }

  function keep(value) {
    try { localStorage.setItem(TOKEN_KEY, value); return true; } catch (e) {
      toast('cannot store the token: ' + e, 'bad');
      return false;
    }
  }

  async function takeTokenFromFragment() {
    const match = (window.location.hash || '').match(/(?:^#|&)token=([^&]+)/);
    if (!match) return;
    history.replaceState(null, '', window.location.pathname + window.location.search);
    let given = '';
    try { given = decodeURIComponent(match[1]); } catch (e) { /* not a token */ }
    const check = given ? await checkToken(given) : { ok: false, message: 'empty' };
    if (check.ok) { keep(given); return; }
    const notice = $('#token-notice');
    notice.textContent = 'the token in the link was refused (' + check.message + '); ' +
      (token() ? 'this browser keeps the token it had' : 'paste the token from state/ui-token');
    notice.hidden = false;
  }

  function token() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  function showTokenState() {
    const has = !!token();
    $('#token-ok').hidden = !has;
    $('#token-form').hidden = has;
    $('#token-hint').hidden = has;
  }

  async function setupToken() {
    await takeTokenFromFragment();
    $('#token-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = $('#token-input').value.trim();
      if (!value) return;
      const check = await checkToken(value);
      if (!check.ok) { toast('token refused: ' + check.message, 'bad'); return; }
      if (!keep(value)) return;
      $('#token-input').value = '';
      showTokenState();
      toast('token saved in this browser', 'ok');
      if (['session', 'settings'].includes(document.body.dataset.page)) window.location.reload();
    });
    $('#token-forget').addEventListener('click', async () => {
      const t = token();
      if (t) {
        try {
          await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-SMBOS-Token': t } });
        } catch (e) { /* the server is away: the cookie ends with the browser */ }
      }
      try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
      showTokenState();
    });
    showTokenState();
  }

  // ------------------------------------------------------------------ session page

  // Shown instead of a page when the UI listens beyond this machine and this browser has no
  // session cookie yet: the kept token gets one, then the page it asked for loads.
  async function sessionPage() {
    const state = $('#session-state');
    const t = token();
    if (!t) { state.textContent = 'this browser has no token yet'; return; }
    let tried = false;
    try { tried = sessionStorage.getItem('smbos-session-tried') === '1'; } catch (e) { /* ignore */ }
    const check = await checkToken(t);
    if (!check.ok) { state.textContent = 'the token this browser keeps was refused (' + check.message + '); paste the current one'; return; }
    if (tried) { state.textContent = 'this browser did not keep the session cookie; allow cookies for this site'; return; }
    try { sessionStorage.setItem('smbos-session-tried', '1'); } catch (e) { /* ignore */ }
    window.location.reload();
  }

  // ------------------------------------------------------------------ HTTP

  class ApiError extends Error {
    constructor(status, message, kind) { super(message); this.status = status; this.kind = kind; }
  }

  function headers(extra) {
    const h = Object.assign({ 'Accept': 'application/json' }, extra || {});
    const t = token();
    if (t) h['X-SMBOS-Token'] = t;
    return h;
  }

  async function errorFrom(response) {
    let message = 'HTTP ' + response.status;
    let kind = 'http';
    try {
      const data = await response.json();
      if (data && data.error) { message = data.error; kind = data.kind || kind; }
    } catch (e) { /* not JSON */ }
    if (kind === 'token') {
      showTokenState();
      $('#token-hint').hidden = false;
      if (response.status === 403) { message += ': paste the current token from state/ui-token'; }
    }
    return new ApiError(response.status, message, kind);
  }

  async function api(method, path, body, opts) {
    const init = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'the UI server does not answer (' + e.message + ')', 'network');
    }
    if (opts && opts.allow && opts.allow.includes(response.status)) return response.json();
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  // POST and read server-sent events as they arrive (fetch + ReadableStream).
  async function stream(path, body, onEvent, accept) {
    let response;
    try {
      response = await fetch(path, {
        method: 'POST', cache: 'no-store', credentials: 'same-origin',
        headers: headers({ 'Content-Type': 'application/json', 'Accept': accept || 'text/event-stream' }),
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'the UI server does not answer (' + e.message + ')', 'network');
    }
    if (!response.ok) throw await errorFrom(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = null;
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (event !== null || data.length) {
            let parsed = {};
            try { parsed = data.length ? JSON.parse(data.join('\n')) : {}; } catch (e) { parsed = { text: data.join('\n') }; }
            onEvent(event || 'message', parsed);
          }
          event = null; data = [];
        } else if (line.startsWith(':')) {
          continue;
        } else {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          let value = i < 0 ? '' : line.slice(i + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
      }
    }
  }

  // ------------------------------------------------------------------ bits of UI

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function toast(message, kind) {
    const box = el('div', { class: 'toast ' + (kind || ''), role: 'status', text: message });
    $('#toasts').append(box);
    setTimeout(() => box.remove(), kind === 'bad' ? 9000 : 4500);
  }

  function banner(message) {
    const b = $('#banner');
    b.textContent = message || '';
    b.hidden = !message;
  }

  function human(seconds) {
    if (seconds === null || seconds === undefined) return '-';
    seconds = Math.floor(seconds);
    if (seconds >= 86400) return Math.floor(seconds / 86400) + 'd' + Math.floor((seconds % 86400) / 3600) + 'h';
    if (seconds >= 3600) return Math.floor(seconds / 3600) + 'h' + Math.floor((seconds % 3600) / 60) + 'm';
    if (seconds >= 60) return Math.floor(seconds / 60) + 'm' + (seconds % 60) + 's';
    return seconds + 's';
  }

  function stateClass(state) {
    return { running: 'ok', restarting: 'info', created: 'warn', paused: 'warn', exited: 'bad', dead: 'bad' }[state] || '';
  }
  function healthClass(health) {
    return { healthy: 'ok', starting: 'info', unhealthy: 'bad' }[health] || '';
  }
  function apiText(row) {
    if (row.api === 'ok' && row.latency_ms !== null && row.latency_ms !== undefined) return 'ok ' + Math.round(row.latency_ms) + 'ms';
    return row.api;
  }
  function pill(text, cls) { return el('span', { class: 'pill ' + (cls || ''), text }); }

  function showEngine(engine) {
    const box = $('#engine-banner');
    if (!box) return;
    box.hidden = !!engine.ok;
    if (!engine.ok) $('#engine-error').textContent = engine.error || '';
  }

  // ------------------------------------------------------------------ lifecycle buttons

  const busy = {};  // agent id -> {verb, until, phase}
  const LABELS = { start: 'starting…', stop: 'stopping…', restart: 'restarting…' };

  function setButtons(container, row) {
    const id = container.dataset.agent || (container.closest('[data-agent]') || {}).dataset.agent;
    const b = busy[id];
    const exists = row && row.state !== 'not created' && row.state !== 'unknown';
    const running = row && (row.state === 'running' || row.state === 'restarting');
    for (const button of $$('button[data-verb]', container)) {
      const verb = button.dataset.verb;
      let enabled = !!exists;
      if (verb === 'start') enabled = exists && !running;
      if (verb === 'stop') enabled = exists && running;
      button.disabled = !!b || !enabled;
      button.title = !exists && row ? (row.state === 'unknown' ? 'Docker engine unreachable' : 'no container yet: run `smbos up ' + id + '`') : '';
    }
    const label = $('.busy', container);
    if (label) label.textContent = b ? (b.phase || LABELS[b.verb]) : '';
  }

  function settled(b, row) {
    if (!row) return false;
    if (b.verb === 'stop') return row.state !== 'running';
    return row.state === 'running' && (row.health === 'healthy' || row.health === 'none');
  }

  async function lifecycle(id, verb, onChange) {
    if (busy[id]) return;
    busy[id] = { verb, phase: LABELS[verb] };
    onChange();
    try {
      const result = await api('POST', '/api/agents/' + encodeURIComponent(id) + '/' + verb);
      const row = result.status;
      if (verb !== 'stop' && !settled({ verb }, row)) {
        busy[id] = { verb, phase: 'waiting for health…', until: Date.now() + 180000 };
        toast(id + ': ' + verb + ' done; waiting for health', 'ok');
      } else {
        delete busy[id];
        toast(id + ': ' + (verb === 'stop' ? 'stopped' : verb + ' done, ' + (row ? row.health : '')), 'ok');
      }
    } catch (e) {
      delete busy[id];
      toast(id + ': ' + verb + ' failed: ' + e.message, 'bad');
    }
    onChange();
  }

  // A row from the status API: settle a "waiting for health" entry once it is healthy.
  function settle(row) {
    const b = busy[row.id];
    if (b && b.until) {
      if (settled(b, row)) { delete busy[row.id]; toast(row.id + ': ' + row.health, 'ok'); }
      else if (Date.now() > b.until) { delete busy[row.id]; toast(row.id + ': still ' + row.state + ' / ' + row.health, 'bad'); }
    }
  }

  // ------------------------------------------------------------------ fleet page

  function fleetPage() {
    const tbody = $('#fleet tbody');
    const rows = {};

    function rowFor(data) {
      let tr = tbody.querySelector('tr[data-agent="' + CSS.escape(data.id) + '"]');
      if (!tr) {
        const empty = tbody.querySelector('tr.empty');
        if (empty) empty.remove();
        tr = el('tr', { 'data-agent': data.id },
          el('td', { class: 'agent' }, data.drift === 'no folder' ? data.id : el('a', { href: '/agents/' + encodeURIComponent(data.id), text: data.name }),
            el('div', { class: 'muted small', text: data.id })),
          el('td', { class: 'c-state' }), el('td', { class: 'c-health' }), el('td', { class: 'c-api' }),
          el('td', { class: 'c-port' }), el('td', { class: 'c-uptime' }), el('td', { class: 'c-restarts' }),
          el('td', { class: 'c-turns' }), el('td', { class: 'c-telegram' }), el('td', { class: 'c-drift' }),
          el('td', { class: 'c-actions' },
            el('button', { type: 'button', 'data-verb': 'start', disabled: true, text: 'Start' }), ' ',
            el('button', { type: 'button', 'data-verb': 'stop', disabled: true, text: 'Stop' }), ' ',
            el('button', { type: 'button', 'data-verb': 'restart', disabled: true, text: 'Restart' }),
            el('span', { class: 'busy small' })));
        tbody.append(tr);
      }
      return tr;
    }

    function render(data) {
      rows[data.id] = data;
      const tr = rowFor(data);
      const b = busy[data.id];
      tr.classList.toggle('busy-row', !!b);
      $('.c-state', tr).replaceChildren(pill(data.state, stateClass(data.state)));
      $('.c-health', tr).replaceChildren(pill(data.health, healthClass(data.health)));
      const api = $('.c-api', tr);
      api.textContent = apiText(data);
      api.title = data.api_detail || '';
      $('.c-port', tr).textContent = data.published || (data.port ? '127.0.0.1:' + data.port : '-');
      $('.c-uptime', tr).textContent = human(data.uptime_s);
      $('.c-restarts', tr).textContent = data.state === 'unknown' ? '-' : String(data.restarts);
      $('.c-turns', tr).textContent = data.state === 'unknown' ? '-' : String(data.turns || 0);
      const telegram = $('.c-telegram', tr);
      telegram.textContent = data.telegram || '-';
      telegram.title = data.telegram_detail || '';
      const drift = $('.c-drift', tr);
      drift.replaceChildren();
      if (data.drift) drift.append(pill(data.drift, 'warn'), ' ');
      if (data.restart_needed) drift.append(pill('restart needed', 'warn'));
      if (!data.drift && !data.restart_needed) drift.textContent = '-';
      if (data.action && !b) drift.append(' ', pill(data.action + ' in progress', 'info'));
      setButtons($('.c-actions', tr), data);
    }

    function redraw() { for (const id of Object.keys(rows)) render(rows[id]); }

    let timer = null;
    async function poll() {
      clearTimeout(timer);
      try {
        const data = await api('GET', '/api/status', undefined, { allow: [503] });
        showEngine(data.engine);
        banner('');
        for (const row of data.agents) { settle(row); render(row); }
        $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      } catch (e) {
        banner(e.message);
      }
      timer = setTimeout(poll, POLL_MS);
    }

    tbody.addEventListener('click', (ev) => {
      const button = ev.target.closest('button[data-verb]');
      if (!button) return;
      const id = button.closest('tr').dataset.agent;
      lifecycle(id, button.dataset.verb, () => { redraw(); }).then(poll);
    });

    async function heal() {
      const list = $('#heal');
      try {
        const data = await api('GET', '/api/heal?limit=20');
        list.replaceChildren(...(data.actions.length ? data.actions.map((a) =>
          el('li', {}, el('code', { text: a.at }), ' ', el('strong', { text: a.agent }), ' ',
            pill(a.action, a.action === 'restarted' ? 'info' : 'warn'), ' ', a.reason))
          : [el('li', { class: 'muted', text: 'none recorded' })]));
      } catch (e) {
        list.replaceChildren(el('li', { class: 'error-text', text: e.message }));
      }
      setTimeout(heal, 10000);
    }

    poll();
    heal();
  }

  // ------------------------------------------------------------------ agent page

  function agentPage() {
    const id = document.body.dataset.agent;
    const base = '/api/agents/' + encodeURIComponent(id);
    const head = $('.agent-head');
    let current = null;

    function renderStatus(row) {
      current = row;
      const b = busy[id];
      $('#a-state').replaceWith(Object.assign(pill(row.state, stateClass(row.state)), { id: 'a-state' }));
      $('#a-health').replaceWith(Object.assign(pill('health ' + row.health, healthClass(row.health)), { id: 'a-health' }));
      $('#a-api').replaceWith(Object.assign(pill('API ' + apiText(row), row.api === 'ok' ? 'ok' : (row.api === '-' ? '' : 'bad')), { id: 'a-api', title: row.api_detail || '' }));
      $('#a-uptime').textContent = 'uptime ' + human(row.uptime_s);
      $('#a-restarts').textContent = 'restarts ' + (row.state === 'unknown' ? '-' : row.restarts);
      $('#a-turns').textContent = 'turns running ' + (row.state === 'unknown' ? '-' : (row.turns || 0));
      const telegram = $('#a-telegram');
      telegram.textContent = 'telegram ' + (row.telegram || '-') + (row.telegram_detail ? ' (' + row.telegram_detail + ')' : '');
      telegram.classList.toggle('bad', row.telegram === 'failed');
      const drift = $('#a-drift');
      drift.hidden = !row.drift;
      drift.textContent = row.drift || '';
      $('#a-restart-needed').hidden = !row.restart_needed;
      setButtons($('.c-actions', head), row);
      if (b) $('.busy', head).textContent = b.phase || LABELS[b.verb];
    }

    let timer = null;
    async function poll() {
      clearTimeout(timer);
      try {
        const data = await api('GET', '/api/status?agent=' + encodeURIComponent(id), undefined, { allow: [503] });
        showEngine(data.engine);
        banner('');
        if (data.agents[0]) { settle(data.agents[0]); renderStatus(data.agents[0]); }
      } catch (e) { banner(e.message); }
      timer = setTimeout(poll, POLL_MS);
    }
    head.addEventListener('click', (ev) => {
      const button = ev.target.closest('button[data-verb]');
      if (!button) return;
      lifecycle(id, button.dataset.verb, () => { if (current) renderStatus(current); }).then(poll);
    });

    // chat + history
    const log = $('#chat-log');
    function bubble(kind, text, meta) {
      const li = el('li', { class: kind }, meta ? el('span', { class: 'meta', text: meta }) : null, text);
      log.append(li);
      log.scrollTop = log.scrollHeight;
      return li;
    }
    async function history() {
      try {
        const data = await api('GET', base + '/messages?limit=50');
        log.replaceChildren();
        if (!data.messages.length) log.append(el('li', { class: 'muted', text: 'no messages yet' }));
        for (const m of data.messages) {
          const mine = !(m.is_from_me || m.is_bot_message);
          bubble(mine ? 'me' : 'bot', m.content, (m.sender_name || m.sender) + ' · ' + new Date(m.timestamp).toLocaleString());
        }
      } catch (e) {
        log.replaceChildren(el('li', { class: 'error', text: 'history: ' + e.message }));
      }
    }
    $('#history-refresh').addEventListener('click', history);

    $('#chat-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('#chat-input');
      const message = input.value;
      if (!message.trim()) return;
      const send = $('#chat-send');
      send.disabled = true;
      send.textContent = 'sending…';
      const empty = log.querySelector('li.muted');
      if (empty) empty.remove();
      bubble('me', message, 'you');
      const reply = bubble('bot typing', 'sending…');
      let got = false;
      try {
        await stream(base + '/chat', { message }, (event, data) => {
          if (event === 'typing') { reply.textContent = 'typing…'; }
          else if (event === 'message') {
            if (!got) { reply.textContent = ''; reply.className = 'bot'; got = true; }
            else reply.append('\n\n');
            reply.append(data.text);
            log.scrollTop = log.scrollHeight;
          } else if (event === 'error') {
            bubble('error', data.text || 'error');
          } else if (event === 'done') {
            if (!got) reply.remove();
          }
        });
        input.value = '';
      } catch (e) {
        reply.remove();
        bubble('error', e.message);
      }
      send.disabled = false;
      send.textContent = 'Send';
    });
    $('#chat-input').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) $('#chat-form').requestSubmit();
    });

    // tasks
    function table(headersRow, rowsData) {
      return el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ...headersRow.map((h) => el('th', { text: h })))),
        el('tbody', {}, ...rowsData.map((r) => el('tr', {}, ...r.map((c) => el('td', { text: c === null || c === undefined ? '-' : String(c) }))))));
    }
    async function taskAction(taskId, action, button) {
      button.disabled = true;
      $('#tasks-note').textContent = action + ' ' + taskId + '…';
      try {
        await api('POST', base + '/tasks/' + encodeURIComponent(taskId) + '/' + action, {});
        $('#tasks-note').textContent = 'task ' + taskId + ': ' + action + ' done';
      } catch (e) {
        $('#tasks-note').textContent = e.message;
      }
      tasks();
    }
    function taskRow(t) {
      const actions = el('td', { class: 'task-actions' });
      const verbs = t.status === 'paused' ? ['resume', 'cancel'] : (t.status === 'active' ? ['pause', 'cancel'] : ['cancel']);
      for (const verb of verbs) {
        const b = el('button', { type: 'button', 'data-task': t.id, 'data-action': verb, text: verb[0].toUpperCase() + verb.slice(1) });
        b.addEventListener('click', () => taskAction(String(t.id), verb, b));
        actions.append(b, ' ');
      }
      const cells = [t.id, t.schedule_type + ' ' + t.schedule_value, t.status, t.next_run, t.last_run,
        (t.last_result || '-').slice(0, 200)].map((c) => el('td', { text: c === null || c === undefined ? '-' : String(c) }));
      return el('tr', { 'data-task': String(t.id) }, ...cells, actions);
    }
    async function tasks() {
      try {
        const data = await api('GET', base + '/tasks');
        const support = data.schedules || {};
        const warn = $('#tasks-support');
        warn.hidden = support.ok !== false;
        warn.textContent = support.ok === false ? 'Scheduled tasks will not run: ' + support.reason : '';
        $('#tasks').replaceChildren(data.tasks.length
          ? el('table', { class: 'grid' },
            el('thead', {}, el('tr', {}, ...['Task', 'Schedule', 'Status', 'Next run', 'Last run', 'Last result', 'Actions'].map((h) => el('th', { text: h })))),
            el('tbody', {}, ...data.tasks.map(taskRow)))
          : el('p', { class: 'muted', text: 'no scheduled tasks' }));
        $('#runs').replaceChildren(data.runLogs.length ? table(['Task', 'Run at', 'Status', 'ms', 'Result'],
          data.runLogs.slice(0, 20).map((r) => [r.task_id, r.run_at, r.status, r.duration_ms,
            ((r.status === 'success' ? r.result : r.error) || '-').slice(0, 200)])) : el('p', { class: 'muted', text: 'no runs yet' }));
      } catch (e) {
        $('#tasks').replaceChildren(el('p', { class: 'error-text', text: e.message }));
        $('#runs').replaceChildren();
      }
    }
    $('#tasks-refresh').addEventListener('click', tasks);

    // logs
    const pre = $('#logs');
    async function logs() {
      if ($('#logs-live').checked) {
        try {
          const data = await api('GET', base + '/logs?tail=200');
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
          pre.textContent = data.lines.join('\n') || '(empty)';
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        } catch (e) { pre.textContent = e.message; }
      }
      setTimeout(logs, POLL_MS);
    }

    // memory
    async function memory() {
      const list = $('#memory-files');
      try {
        const data = await api('GET', base + '/memory');
        const items = data.files.length ? data.files.map((f) => {
          const b = el('button', { type: 'button', class: 'link', text: f.path, 'data-path': f.path, disabled: !f.viewable });
          return el('li', {}, b, el('span', { class: 'muted', text: ' ' + f.size + ' B' + (f.note ? ' (not shown: ' + f.note + ')' : '') }));
        }) : [el('li', { class: 'muted', text: 'empty' })];
        // A folder the runtime filled past the walk's limits is listed in part, and says why.
        if (data.stopped) items.push(el('li', { class: 'error-text', text: 'listed in part: ' + data.stopped }));
        list.replaceChildren(...items);
      } catch (e) { list.replaceChildren(el('li', { class: 'error-text', text: e.message })); }
    }
    $('#memory-files').addEventListener('click', async (ev) => {
      const b = ev.target.closest('button[data-path]');
      if (!b) return;
      $$('#memory-files button').forEach((x) => x.classList.toggle('active', x === b));
      $('#memory-name').textContent = b.dataset.path;
      try {
        const data = await api('GET', base + '/memory/' + b.dataset.path.split('/').map(encodeURIComponent).join('/'));
        $('#memory-text').textContent = data.text;
      } catch (e) { $('#memory-text').textContent = e.message; }
    });

    poll();
    history();
    tasks();
    setInterval(tasks, 15000);
    logs();
    memory();
  }

  // ------------------------------------------------------------------ settings page

  function settingsPage() {
    const id = document.body.dataset.agent;
    const form = $('#env-form');
    const result = $('#env-result');
    const rows = $('#env-rows');

    function row(k) {
      const name = el('td', {}, el('label', { for: 'env-' + k.key }, el('code', { text: k.key })));
      if (k.required) name.append(' ', el('span', { class: 'pill small warn', text: 'required' }));
      if (k.secret) name.append(' ', el('span', { class: 'pill small', text: 'secret' }));
      const input = el('input', { id: 'env-' + k.key, name: k.key, type: 'text', placeholder: 'not set',
        spellcheck: 'false', autocomplete: 'off', 'data-secret': k.secret ? 'true' : 'false' });
      input.value = k.value;
      input.dataset.original = k.value;
      const about = el('td', { class: 'small' }, el('span', { class: 'muted', text: k.source }));
      if (k.description) about.append(' · ' + k.description);
      return el('tr', { 'data-key': k.key }, name, el('td', {}, input), about);
    }

    function apply(keys) {
      rows.replaceChildren(...keys.map(row));
    }

    // Secrets SMBOS cannot hide in what the runtime shows (too short, plain or common).
    function warn(list) {
      const box = $('#env-warnings');
      box.replaceChildren(...(list || []).map((w) => el('li', { text: 'warning: ' + w })));
      box.hidden = !(list && list.length);
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const input of $$('tbody input[name]', form)) {
        if (input.value !== input.dataset.original) values[input.name] = input.value;
      }
      const newKey = $('#new-key').value.trim();
      if (newKey) values[newKey] = $('#new-value').value;
      if (!Object.keys(values).length) { result.textContent = 'nothing changed'; result.className = 'small muted'; return; }
      const save = $('#env-save');
      save.disabled = true;
      save.textContent = 'saving…';
      try {
        const data = await api('PUT', '/api/agents/' + encodeURIComponent(id) + '/env', { values });
        apply(data.keys);
        warn(data.secret_warnings);
        const parts = [];
        if (data.changed.length) parts.push('set ' + data.changed.join(', '));
        if (data.removed.length) parts.push('removed ' + data.removed.join(', '));
        if (!parts.length) parts.push('nothing changed');
        if (data.backup) parts.push('previous file kept as ' + data.backup);
        result.textContent = 'saved: ' + parts.join('; ');
        result.className = 'small ok-text';
        for (const w of data.warnings || []) toast('warning: ' + w, 'bad');
        if (newKey) { $('#new-key').value = ''; $('#new-value').value = ''; if (data.changed.includes(newKey)) window.location.reload(); }
        if (data.changed.length || data.removed.length) $('#restart-banner').hidden = data.restart_needed === false;
      } catch (e) {
        result.textContent = e.message;
        result.className = 'small error-text';
      }
      save.disabled = false;
      save.textContent = 'Save';
    });

    const holder = $('#restart-banner .c-actions');
    holder.addEventListener('click', (ev) => {
      const button = ev.target.closest('button[data-verb]');
      if (!button) return;
      lifecycle(id, 'restart', () => {
        const b = busy[id];
        button.disabled = !!b;
        $('.busy', holder).textContent = b ? (b.phase || LABELS[b.verb]) : '';
      }).then(() => watch(false));
    });

    async function watch(first) {
      try {
        const data = await api('GET', '/api/agents/' + encodeURIComponent(id) + '/env');
        if (first) { apply(data.keys); warn(data.secret_warnings); }
        if (data.restart_needed !== null) $('#restart-banner').hidden = !data.restart_needed;
        const s = await api('GET', '/api/status?agent=' + encodeURIComponent(id), undefined, { allow: [503] });
        if (s.agents[0]) settle(s.agents[0]);
        const b = busy[id];
        $('.busy', holder).textContent = b ? (b.phase || LABELS[b.verb]) : '';
        $('#restart-now').disabled = !!b;
        if (b) { setTimeout(watch, POLL_MS); return; }
        if (s.agents[0] && !data.restart_needed && s.agents[0].state === 'running') {
          $('.busy', holder).textContent = '';
        }
      } catch (e) {
        if (first) rows.replaceChildren(el('tr', {}, el('td', { colspan: '3', class: 'error-text', text: e.message })));
        else banner(e.message);
      }
    }
    watch(true);
  }

  // ------------------------------------------------------------------ skill page

  function renderResult(box, result) {
    box.replaceChildren();
    if (result.note) box.append(el('p', { class: 'muted small', text: result.note }));
    if (result.display === 'list') {
      box.append(el('ul', {}, ...result.items.map((item) => el('li', { text: item }))));
    } else if (result.display === 'table') {
      box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'grid' },
        el('thead', {}, el('tr', {}, ...result.headers.map((h) => el('th', { text: h })))),
        el('tbody', {}, ...result.rows.map((r) => el('tr', {}, ...r.map((c) => el('td', { text: c }))))))));
    } else {
      box.append(el('pre', { text: result.text || '(empty reply)' }));
    }
  }

  function skillPage() {
    const id = document.body.dataset.agent;
    const skill = document.body.dataset.skill;
    const form = $('#skill-form');
    const box = $('#skill-result');
    const errors = $('#skill-errors');
    const stateLabel = $('#skill-state');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const field of $$('[name]', form)) values[field.name] = field.value;
      const run = $('#skill-run');
      run.disabled = true;
      run.textContent = 'running…';
      errors.textContent = '';
      stateLabel.textContent = 'sending…';
      box.replaceChildren(el('p', { class: 'muted', text: 'waiting for the agent…' }));
      const live = el('pre', {});
      try {
        await stream('/api/agents/' + encodeURIComponent(id) + '/skills/' + encodeURIComponent(skill), { values }, (event, data) => {
          if (event === 'prompt') { $('#skill-prompt').textContent = data.text; $('#skill-prompt-box').hidden = false; }
          else if (event === 'typing') { stateLabel.textContent = 'the agent is working…'; }
          else if (event === 'message') {
            if (!live.isConnected) box.replaceChildren(live);
            live.textContent += (live.textContent ? '\n\n' : '') + data.text;
          } else if (event === 'error') { errors.textContent += (errors.textContent ? '\n' : '') + data.text; }
          else if (event === 'result') { renderResult(box, data); }
          else if (event === 'done') { stateLabel.textContent = 'done ' + new Date().toLocaleTimeString(); }
        });
      } catch (e) {
        errors.textContent = e.message;
        stateLabel.textContent = '';
        box.replaceChildren();
      }
      run.disabled = false;
      run.textContent = 'Run';
    });
  }

  // ------------------------------------------------------------------ start

  document.addEventListener('DOMContentLoaded', async () => {
    await setupToken();
    const pages = { fleet: fleetPage, agent: agentPage, settings: settingsPage, skill: skillPage,
      session: sessionPage };
    const start = pages[document.body.dataset.page];
    if (start) start();
  });

  // The token stays inside this file: nothing else on the page can ask for it.
  window.SMBOS = { api, stream, human };
})();
