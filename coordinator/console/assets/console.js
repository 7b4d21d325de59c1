// rollgate console: one page, five views (#/rollouts, #/rollout/ID, #/fleet, #/backtests,
// #/backtest/ID). Data comes from
// /api/ as JSON; a server-sent event stream per view says when it changed (no polling). Every
// value from the server is put into the page as text (textContent, attributes set one by one):
// never as HTML.
'use strict';

const state = { session: null, stream: null, view: null, loading: false, again: false };
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return node;
}
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function pill(text) { return el('span', { class: 'pill ' + String(text).replace(/[^a-z_]/g, '') }, text); }
function when(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-'; }
function num(v, digits = 3) {
  if (v === null || v === undefined || typeof v === 'string') return v === undefined ? '-' : String(v);
  return Number(v).toPrecision(digits);
}
function finite(v) { return typeof v === 'number' && isFinite(v); }

async function api(path, options = {}) {
  const headers = { 'Accept': 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.method === 'POST' && state.session) headers['X-CSRF-Token'] = state.session.csrf;
  const res = await fetch(path, {
    method: options.method || 'GET', headers, credentials: 'same-origin',
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { data = {}; }
  if (res.status === 401 && path !== '/api/login') { showLogin(); }
  return { status: res.status, data };
}

function notice(text, bad) {
  const n = document.getElementById('notice');
  n.textContent = text;
  n.className = bad ? 'notice bad' : 'notice';
  n.hidden = !text;
}

function setFreeze(freeze) {
  const b = document.getElementById('freeze-banner');
  if (freeze) {
    b.textContent = 'Rollouts are frozen fleet-wide by ' + (freeze.by || 'an operator') +
      (freeze.reason ? ': ' + freeze.reason : '') + ' (since ' + when(freeze.sinceMillis) + ')';
    b.hidden = false;
  } else {
    b.hidden = true;
    b.textContent = '';
  }
}

// ---- confirmation and actions

function confirmAction(text, withReason) {
  return new Promise((resolve) => {
    const modal = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    const reason = document.getElementById('confirm-reason');
    reason.value = '';
    document.getElementById('confirm-reason-label').hidden = !withReason;
    modal.hidden = false;
    const done = (ok) => {
      modal.hidden = true;
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      resolve(ok ? { reason: reason.value } : null);
    };
    const yes = document.getElementById('confirm-yes');
    const no = document.getElementById('confirm-no');
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
  });
}

async function act(body, question, withReason) {
  const answer = await confirmAction(question, withReason);
  if (!answer) return;
  if (withReason && answer.reason) body.reason = answer.reason;
  notice('working: ' + question, false);
  const { status, data } = await api('/api/action', { method: 'POST', body });
  if (status === 200 || status === 202) {
    notice(data.message || 'done', false);
  } else {
    notice('refused (' + status + '): ' + (data.error || 'error'), true);
  }
  refresh();
}

function actionButton(label, id, body, question, withReason) {
  return el('button', { id, class: /abort|roll|freeze/.test(id) ? 'danger' : '',
                        onclick: () => act(body, question, withReason) }, label);
}

// ---- live updates

// A browser opens at most 6 connections to one host over HTTP/1.1 and each live page holds one:
// a tab in the background gives its stream back, and catches up when it is shown again.
function follow(topic, id) {
  if (state.stream) { state.stream.close(); state.stream = null; }
  if (document.visibilityState === 'hidden') return;
  const url = '/api/stream?topic=' + encodeURIComponent(topic) + (id ? '&id=' + encodeURIComponent(id) : '');
  state.stream = new EventSource(url);
  state.stream.addEventListener('changed', () => refresh());
}

async function refresh() {
  if (!state.view) return;
  if (state.loading) { state.again = true; return; }
  state.loading = true;
  try { await state.view.load(); } finally { state.loading = false; }
  if (state.again) { state.again = false; refresh(); }
}

// ---- rollouts list

function rolloutsView() {
  const service = el('input', { id: 'filter-service', placeholder: 'service', size: 14 });
  const status = el('select', { id: 'filter-status' });
  for (const s of ['', 'running', 'finished', 'succeeded', 'waiting_for_operator', 'rolled_back', 'aborted']) {
    status.appendChild(el('option', { value: s }, s || 'any status'));
  }
  const body = el('tbody');
  const aborts = el('div');
  const root = el('div', {},
    el('h1', {}, 'Rollouts'),
    el('div', { class: 'toolbar' }, service, status,
      actionButton('Abort all', 'abort-all', { action: 'abort_all' }, 'Abort EVERY running rollout?', true),
      actionButton('Freeze', 'freeze', { action: 'freeze' }, 'Freeze new rollouts fleet-wide?', true),
      actionButton('Unfreeze', 'unfreeze', { action: 'unfreeze' }, 'Allow new rollouts again?', false)),
    el('table', { id: 'rollouts' },
      el('thead', {}, el('tr', {}, ...['rollout', 'service', 'version', 'status', 'step', 'stage', 'started', 'finished'].map((h) => el('th', {}, h)))),
      body),
    aborts);
  service.addEventListener('input', () => refresh());
  status.addEventListener('change', () => refresh());
  return {
    root, topic: 'rollouts',
    async load() {
      const q = new URLSearchParams({ service: service.value, status: status.value });
      const { status: code, data } = await api('/api/rollouts?' + q);
      if (code !== 200) return;
      setFreeze(data.freeze);
      body.replaceChildren(...data.rollouts.map((r) => el('tr', { 'data-rollout': r.id },
        el('td', {}, el('a', { href: '#/rollout/' + encodeURIComponent(r.id) }, r.id)),
        el('td', {}, r.service), el('td', {}, r.version), el('td', {}, pill(r.status)),
        el('td', {}, r.step + '/' + r.steps), el('td', {}, r.stage + (r.region ? ' ' + r.region : '')),
        el('td', {}, when(r.startedMillis)), el('td', {}, when(r.finishedMillis)))));
      aborts.replaceChildren(...abortTables(data.aborts.slice(0, 5)));
    },
  };
}

function abortTables(list) {
  const out = [];
  if (list.length) out.push(el('h2', {}, 'Aborts'));
  for (const a of list) {
    const acked = a.hosts.filter((h) => h.ackedAtMillis !== null).length;
    out.push(el('h3', { class: 'abort', 'data-abort': String(a.id) },
      'Abort ' + a.id + ' by ' + a.requestedBy + ' at ' + when(a.createdMillis) + ': ' + a.reason +
      ' (' + acked + ' of ' + a.hosts.length + ' hosts acknowledged)'));
    out.push(el('table', { class: 'acks' },
      el('thead', {}, el('tr', {}, el('th', {}, 'host'), el('th', {}, 'acknowledged'), el('th', {}, 'after'))),
      el('tbody', {}, ...a.hosts.map((h) => el('tr', { 'data-host': h.host, 'data-acked': h.ackedAtMillis === null ? 'no' : 'yes' },
        el('td', {}, h.host),
        el('td', {}, h.ackedAtMillis === null ? 'waiting' : when(h.ackedAtMillis)),
        el('td', {}, h.ackedAtMillis === null ? '' : (h.ackedAtMillis - a.createdMillis) + ' ms'))))));
  }
  return out;
}

// ---- one rollout

const BAD = ['rolled_back', 'rolled_back_incomplete', 'aborted', 'failed', 'rolling_back'];

function decisionWords(r, events) {
  const last = [...events].reverse().find((e) => ['step_failed', 'held', 'finished', 'step_passed'].includes(e.kind));
  let words;
  switch (r.status) {
    case 'succeeded': words = 'Promoted: every step passed its checks.'; break;
    case 'waiting_for_operator': words = 'Held for an operator: ' + (r.holdReason || r.hold) + '.'; break;
    case 'rolled_back': case 'rolling_back': words = 'Rolled back: a step failed its checks.'; break;
    case 'aborted': words = 'Aborted by an operator.'; break;
    default: words = 'Running: step ' + r.step + ' of ' + r.steps + ' (' + r.stage + '), ' + r.phase +
      (r.looks ? ', look ' + r.look + ' of ' + r.looks : '') + '.';
  }
  if (r.endReason) words += ' ' + r.endReason;
  return { words, because: last ? last.text : '' };
}

function pipeline(view) {
  const r = view.rollout;
  return el('div', { class: 'pipeline', id: 'pipeline' }, ...view.plan.map((p) => {
    let cls = 'stage';
    if (p.step < r.step) cls += ' done';
    if (p.step === r.step) cls += (r.phase === 'failed' || BAD.includes(r.status)) ? ' failed' : r.finishedMillis ? ' done' : ' current';
    const hosts = p.step === r.step ? r.targets.map((h) => el('li', { 'data-host': h.host },
      h.host + ' ' + (h.release || '-') + (h.pending ? ' (' + h.pending + ')' : '') +
      (h.rollback !== 'none' ? ' rollback ' + h.rollback : '') + (h.healthy ? '' : ' unhealthy')))
      : p.targets.map((h) => el('li', {}, h));
    return el('div', { class: cls, 'data-step': String(p.step) },
      el('strong', {}, p.step + '. ' + p.stage + (p.batches > 1 ? ' ' + p.batch + '/' + p.batches : '')),
      p.region ? el('div', { class: 'muted' }, p.region) : null,
      el('div', { class: 'muted' }, 'vs ' + (p.comparisonKind || 'none') + ' (' + p.comparison.length + ')'),
      el('ul', {}, ...hosts));
  }));
}

// A panel of one chart: series of [look, value] with a y scale (linear or log10).
function panel(title, series, options) {
  const W = 186, H = 120, L = 46, B = 16, T = 14;
  const g = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
  g.appendChild(svg('text', { x: 2, y: 10 }, title));
  const looks = options.looks || 1;
  const log = !!options.log;
  const ys = [];
  for (const s of series) for (const [, y] of s.points) if (finite(y) && (!log || y > 0)) ys.push(log ? Math.log10(y) : y);
  for (const y of options.include || []) if (finite(y) && (!log || y > 0)) ys.push(log ? Math.log10(y) : y);
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (hi === lo) { hi += 1; lo -= log ? 1 : 0; }
  const x = (look) => L + (W - L - 4) * (looks > 1 ? (look - 1) / (looks - 1) : 0.5);
  const y = (v) => { const t = log ? Math.log10(v) : v; return T + (H - T - B) * (1 - (t - lo) / (hi - lo)); };
  g.appendChild(svg('line', { x1: L, y1: H - B, x2: W - 4, y2: H - B, stroke: '#c5cbd5' }));
  g.appendChild(svg('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#c5cbd5' }));
  g.appendChild(svg('text', { x: L - 3, y: T + 8, 'text-anchor': 'end' }, num(log ? Math.pow(10, hi) : hi, 2)));
  g.appendChild(svg('text', { x: L - 3, y: H - B, 'text-anchor': 'end' }, num(log ? Math.pow(10, lo) : lo, 2)));
  g.appendChild(svg('text', { x: L, y: H - 3 }, 'look 1'));
  g.appendChild(svg('text', { x: W - 4, y: H - 3, 'text-anchor': 'end' }, 'look ' + looks));
  for (const s of series) {
    const pts = s.points.filter(([, v]) => finite(v) && (!log || v > 0));
    if (s.band) {
      for (const [look, , low, high] of s.band) {
        if (finite(low) && finite(high)) g.appendChild(svg('line', { x1: x(look), x2: x(look), y1: y(low), y2: y(high), stroke: s.color, 'stroke-opacity': 0.35, 'stroke-width': 3 }));
      }
    }
    if (pts.length > 1) {
      g.appendChild(svg('polyline', { points: pts.map(([l, v]) => x(l) + ',' + y(v)).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 1.5, 'stroke-dasharray': s.dash || '' }));
    }
    for (const [l, v] of pts) {
      if (!s.dash) g.appendChild(svg('circle', { cx: x(l), cy: y(v), r: 2, fill: s.color }));
    }
  }
  return g;
}

function checkCharts(view, specs) {
  // Every check of every step, across its looks.
  const groups = new Map();
  for (const c of view.checks) {
    const key = c.step + '\u0000' + c.result.name;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  const floors = new Map(specs.map((s) => [s.name, s]));
  const charts = [];
  for (const list of groups.values()) {
    const first = list[0];
    const res = list.map((c) => c.result);
    const last = res[res.length - 1];
    const looks = Math.max(last.looks || 1, ...res.map((r) => r.look));
    const failing = res.some((r) => r.verdict === 'fail');
    const spec = floors.get(last.name) || {};
    const metric = panel('canary vs comparison', [
      { color: '#c0392b', points: res.map((r) => [r.look, r.canaryValue]) },
      { color: '#2f6fde', points: res.map((r) => [r.look, r.baselineValue]) },
    ], { looks });
    const p = panel('p-value vs boundary (log)', [
      { color: '#1d2330', points: res.map((r) => [r.look, r.pValue]) },
      { color: '#b3261e', dash: '4 2', points: res.map((r) => [r.look, r.alphaAtLook]) },
    ], { looks, log: true });
    const effects = res.map((r) => [r.look, r.effect ? r.effect[0] : NaN, r.effect ? r.effect[1] : NaN, r.effect ? r.effect[2] : NaN]);
    const floorValue = finite(spec.minEffect) && spec.minEffect > 0 ? spec.minEffect : 0;
    const effect = panel('effect vs floor', [
      { color: '#6a3fb5', points: effects.map(([l, e]) => [l, e]), band: effects },
      { color: '#b3261e', dash: '4 2', points: [[1, floorValue], [looks, floorValue]] },
    ], { looks, include: [floorValue] });
    charts.push(el('div', { class: 'chart' + (failing ? ' failing' : ''), 'data-check': last.name, 'data-step': String(first.step), 'data-verdict': last.verdict },
      el('h3', {}, last.name + ' - step ' + first.step + ' (' + first.stage + ') ', pill(last.verdict)),
      el('div', { class: 'legend' }, last.metric + ', ' + last.test + ', tier ' + last.tier + '; red: canary, blue: comparison; dashed: alpha boundary / effect floor ' + num(floorValue)),
      el('div', { class: 'panels' }, metric, p, effect),
      el('div', { class: 'muted' }, 'look ' + last.look + '/' + looks + ': ' + last.explanation)));
  }
  return charts;
}

function rolloutView(id) {
  const root = el('div', {}, el('p', { class: 'muted' }, 'loading ' + id + ' ...'));
  return {
    root, topic: 'rollout', id,
    async load() {
      const { status, data } = await api('/api/rollouts/' + encodeURIComponent(id));
      if (status !== 200) { root.replaceChildren(el('p', { class: 'error' }, data.error || 'cannot load')); return; }
      setFreeze(data.freeze);
      if (root.getAttribute('data-version') === String(data.version)) return;  // nothing new here
      const r = data.rollout;
      const d = decisionWords(r, data.events);
      const running = !r.finishedMillis;
      const scrollY = window.scrollY;
      root.replaceChildren(
        el('h1', { id: 'rollout-title' }, 'Rollout ' + r.id + ': ' + r.service + ' ' + r.version + ' ', pill(r.status)),
        el('div', { class: 'decision' + (BAD.includes(r.status) ? ' bad' : ''), id: 'decision' },
          el('strong', {}, d.words), d.because ? el('div', { class: 'muted' }, d.because) : null),
        el('div', { id: 'label', 'data-label': r.label || '' }, 'Label: ',
          r.label ? pill(r.label) : el('span', { class: 'muted' }, 'none'),
          r.label ? ' ' + (r.labelSource || '') : ' (labelled when it is rolled back by a critical check, or promoted and not reverted for a while; rollgate rollout label ' + r.id + ' good|bad)'),
        el('div', { class: 'toolbar' },
          // A finished rollout has nothing left to pause, promote, roll back or abort.
          ...(running ? [
            actionButton('Pause', 'pause', { action: 'pause', rollout: r.id }, 'Pause rollout ' + r.id + '?', false),
            actionButton('Resume', 'resume', { action: 'resume', rollout: r.id }, 'Resume rollout ' + r.id + '?', false),
            actionButton('Promote', 'promote', { action: 'promote', rollout: r.id }, 'Promote rollout ' + r.id + ' past its hold?', false),
            actionButton('Roll back', 'rollback', { action: 'rollback', rollout: r.id }, 'Roll back rollout ' + r.id + '?', false),
            actionButton('Abort', 'abort', { action: 'abort', rollout: r.id }, 'Abort rollout ' + r.id + ' and return its hosts?', true),
          ] : []),
          actionButton('Revert ' + r.service, 'revert', { action: 'revert', service: r.service }, 'Revert every host of ' + r.service + ' to its previous release?', true),
          el('span', { class: 'muted' }, running ? 'live' : 'finished ' + when(r.finishedMillis))),
        el('h2', {}, 'Pipeline'), pipeline(data),
        el('h2', {}, 'Checks'), el('div', { class: 'charts', id: 'charts' }, ...checkCharts(data, data.checkSpecs || [])),
        ...abortTables(data.aborts),
        el('h2', {}, 'Events'),
        el('table', { id: 'events' },
          el('thead', {}, el('tr', {}, ...['time', 'step', 'kind', 'host', 'what'].map((h) => el('th', {}, h)))),
          el('tbody', {}, ...data.events.slice().reverse().map((e) => el('tr', {},
            el('td', {}, when(e.atMillis)), el('td', {}, e.step || ''), el('td', {}, e.kind),
            el('td', {}, e.host), el('td', { class: 'event-text' }, e.text))))));
      window.scrollTo(0, scrollY);
      root.setAttribute('data-version', String(data.version));
    },
  };
}

// ---- fleet

function fleetView() {
  const filter = el('input', { id: 'filter-hosts', placeholder: 'filter: host, region, cluster, release', size: 36 });
  const health = el('select', { id: 'filter-health' },
    el('option', { value: '' }, 'any health'), el('option', { value: 'healthy' }, 'healthy'), el('option', { value: 'unhealthy' }, 'unhealthy'));
  const prev = el('button', { id: 'page-prev' }, 'Previous');
  const next = el('button', { id: 'page-next' }, 'Next');
  const count = el('span', { id: 'host-count' });
  const groups = el('div', { class: 'groups' });
  const body = el('tbody');
  let offset = 0;
  const limit = 100;
  const root = el('div', {}, el('h1', {}, 'Fleet'), el('div', { class: 'toolbar' }, filter, health, prev, next, count), groups,
    el('table', { id: 'hosts' },
      el('thead', {}, el('tr', {}, ...['region', 'cluster', 'host', 'release', 'health', 'last contact', 'agent'].map((h) => el('th', {}, h)))),
      body));
  filter.addEventListener('input', () => { offset = 0; refresh(); });
  health.addEventListener('change', () => { offset = 0; refresh(); });
  prev.addEventListener('click', () => { offset = Math.max(0, offset - limit); refresh(); });
  next.addEventListener('click', () => { offset += limit; refresh(); });
  return {
    root, topic: 'fleet',
    async load() {
      const q = new URLSearchParams({ q: filter.value, health: health.value, offset, limit });
      const { status, data } = await api('/api/fleet?' + q);
      if (status !== 200) return;
      setFreeze(data.freeze);
      if (data.matched && offset >= data.matched) { offset = Math.max(0, data.matched - limit); }
      count.textContent = (data.matched ? (offset + 1) + '-' + (offset + data.hosts.length) : '0') + ' of ' +
        data.matched + ' hosts (' + data.healthy + ' of ' + data.total + ' healthy)';
      prev.disabled = offset === 0;
      next.disabled = offset + limit >= data.matched;
      groups.replaceChildren(...data.groups.map((g) => el('span', { class: 'group' }, g.region + ' / ' + g.cluster + ': ' + g.healthy + '/' + g.hosts)));
      body.replaceChildren(...data.hosts.map((h) => el('tr', { 'data-host': h.name },
        el('td', {}, h.region), el('td', {}, h.cluster), el('td', {}, h.name),
        el('td', {}, h.services.map((s) => s.service + ' ' + (s.release || '-')).join(', ')),
        el('td', {}, pill(h.healthy ? 'healthy' : 'unhealthy')), el('td', {}, when(h.lastContactMillis)),
        el('td', {}, h.agentVersion))));
    },
  };
}

// ---- backtests

function ratio(v) { return v === null || v === undefined ? '-' : Number(v).toFixed(3); }
function secs(ms) { return ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1) + ' s'; }
function decisionText(d) {
  if (!d) return '-';
  let out = d.decision;
  if (d.step && d.decision !== 'promote') out += ' at step ' + d.step + ' (' + d.stage + ')';
  if (d.look) out += ' look ' + d.look;
  if (d.check) out += ' by ' + d.check;
  return out;
}
function gatesFigures(row) {
  return row ? 'precision ' + ratio(row.precision) + ', recall ' + ratio(row.recall) : '-';
}

function backtestsView() {
  const body = el('tbody');
  const kept = el('p', { class: 'muted' });
  const service = el('input', { id: 'backtest-service', placeholder: 'service (empty: every service)', size: 28 });
  const gates = el('textarea', { id: 'backtest-gates', rows: 6, cols: 72,
    placeholder: 'gates to try, TOML as for rollout start --gates ([[check]] tables); empty: the gates each rollout ran with' });
  const run = el('button', { id: 'backtest-run' }, 'Run backtest');
  run.addEventListener('click', async () => {
    const body = { action: 'backtest', service: service.value.trim(), gates: gates.value };
    notice('backtest running ...', false);
    run.disabled = true;
    const { status, data } = await api('/api/action', { method: 'POST', body });
    run.disabled = false;
    if (status === 200 || status === 202) {
      const id = data.document && data.document.run;
      notice(id ? 'backtest ' + id + ' done' : (data.message || 'started'), false);
    } else {
      notice('refused (' + status + '): ' + (data.error || 'error'), true);
    }
    refresh();
  });
  const form = state.session && state.session.role === 'operator'
    ? el('div', { class: 'backtest-form' }, el('h2', {}, 'Run one'),
      el('p', { class: 'muted' }, 'Replays the kept rollouts (rollgate backtest); with gates given, beside the gates they ran with.'),
      el('div', { class: 'toolbar' }, service, run), gates)
    : null;
  const root = el('div', {}, el('h1', {}, 'Backtests'), kept,
    el('table', { id: 'backtests' },
      el('thead', {}, el('tr', {}, ...['run', 'status', 'by', 'started', 'what', 'replayed', 'good / bad', 'changed', 'gates now', 'gates as they ran'].map((h) => el('th', {}, h)))),
      body),
    form);
  return {
    root, topic: 'backtests',
    async load() {
      const { status, data } = await api('/api/backtests');
      if (status !== 200) return;
      setFreeze(data.freeze);
      kept.textContent = 'Backtests run from the CLI (rollgate backtest) or here; the coordinator keeps the last ' +
        data.kept + ' until it restarts.';
      body.replaceChildren(...data.backtests.map((b) => el('tr', { 'data-backtest': b.id, 'data-status': b.status },
        el('td', {}, el('a', { href: '#/backtest/' + encodeURIComponent(b.id) }, b.id)),
        el('td', {}, pill(b.status)), el('td', {}, b.requestedBy), el('td', {}, when(b.startedMillis)),
        el('td', {}, b.error ? b.request + ': ' + b.error : b.request),
        el('td', {}, b.replayed === undefined ? '-' : String(b.replayed)),
        el('td', {}, b.good === undefined ? '-' : b.good + ' / ' + b.bad),
        el('td', {}, b.changed === undefined ? '-' : String(b.changed)),
        el('td', {}, gatesFigures(b.gates)), el('td', {}, b.compare ? gatesFigures(b.gatesAsRan) : '-'))));
    },
  };
}

function checksTable(id, rows) {
  return el('table', { id, class: 'backtest-checks' },
    el('thead', {}, el('tr', {}, ...['check', 'tier', 'TP', 'FP', 'FN', 'TN', 'precision', 'recall', 'median to decision', 'p90 to decision'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((c) => el('tr', { 'data-check': c.name },
      el('td', {}, c.name), el('td', {}, c.tier), el('td', {}, String(c.truePositives)),
      el('td', {}, String(c.falsePositives)), el('td', {}, String(c.falseNegatives)),
      el('td', {}, String(c.trueNegatives)), el('td', { class: 'precision' }, ratio(c.precision)),
      el('td', { class: 'recall' }, ratio(c.recall)), el('td', {}, secs(c.medianMillisToDecision)),
      el('td', {}, secs(c.p90MillisToDecision))))));
}

function backtestView(id) {
  const root = el('div', {}, el('p', { class: 'muted' }, 'loading backtest ' + id + ' ...'));
  return {
    root, topic: 'backtests', id,
    async load() {
      const { status, data } = await api('/api/backtests/' + encodeURIComponent(id));
      if (status !== 200) { root.replaceChildren(el('p', { class: 'error' }, data.error || 'cannot load')); return; }
      setFreeze(data.freeze);
      const b = data.run;
      const r = data.report;
      const head = [
        el('h1', { id: 'backtest-title' }, 'Backtest ' + b.id + ' ', pill(b.status)),
        el('p', {}, b.request + '; by ' + b.requestedBy + ', started ' + when(b.startedMillis) +
          (b.finishedMillis ? ', finished ' + when(b.finishedMillis) : '')),
      ];
      if (!r) {
        root.replaceChildren(...head, el('p', { class: b.error ? 'error' : 'muted', id: 'backtest-error' }, b.error || 'running ...'));
        return;
      }
      const fromStore = r.storage.source === 'store';
      const lines = [
        fromStore ? 'Kept windows: ' + (r.storage.usedBytes / 1048576).toFixed(1) + ' MiB of ' +
          (r.storage.capBytes / 1048576).toFixed(1) + ' MiB for ' + r.storage.keptRollouts + ' rollouts; ' +
          r.storage.droppedRollouts + ' older rollouts\' windows dropped.' : 'History: ' + r.storage.source + '.',
        r.emptyRange ? r.emptyRange : 'Selected ' + r.selected + ' rollouts (' + r.range + '); replayed ' + r.replayed + ': ' +
          r.good + ' good, ' + r.bad + ' bad, ' + r.unlabelled + ' unlabelled; ' + r.windows + ' windows in ' +
          Math.round(r.replayMillis) + ' ms.',
        'Gates: ' + r.gatesSource + '. Plan: ' + r.planSource + '.',
      ];
      const parts = [...head, ...lines.map((t) => el('p', { class: 'muted' }, t))];
      parts.push(el('h2', {}, r.compare ? 'Checks with ' + r.gatesSource : 'Checks'), checksTable('backtest-checks', r.checks));
      if (r.compare) parts.push(el('h2', {}, 'Checks as the rollouts ran'), checksTable('backtest-checks-then', r.currentChecks));
      parts.push(el('h2', {}, 'Rollouts whose decision would change (' + r.changed.length + ')'));
      parts.push(el('table', { id: 'backtest-changed' },
        el('thead', {}, el('tr', {}, ...['rollout', 'service', 'version', 'label', 'then', 'now'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...r.changed.map((c) => el('tr', { 'data-rollout': c.id },
          // Rollouts of the store have a page; those of a --windows history do not.
          el('td', {}, fromStore ? el('a', { href: '#/rollout/' + encodeURIComponent(c.id) }, c.id) : c.id),
          el('td', {}, c.service), el('td', {}, c.version),
          el('td', {}, c.label ? pill(c.label) : '-', c.labelSource ? ' ' + c.labelSource : ''),
          el('td', {}, decisionText(c.then)), el('td', {}, decisionText(c.now)))))));
      root.replaceChildren(...parts);
    },
  };
}

// ---- routing and sign-in

function showLogin() {
  state.session = null;
  if (state.stream) { state.stream.close(); state.stream = null; }
  state.view = null;
  document.getElementById('login-view').hidden = false;
  document.getElementById('view').replaceChildren();
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('who').textContent = '';
}

function route() {
  if (!state.session) return;
  const hash = location.hash || '#/rollouts';
  let view;
  if (hash.startsWith('#/rollout/')) view = rolloutView(decodeURIComponent(hash.slice('#/rollout/'.length)));
  else if (hash === '#/fleet') view = fleetView();
  else if (hash.startsWith('#/backtest/')) view = backtestView(decodeURIComponent(hash.slice('#/backtest/'.length)));
  else if (hash === '#/backtests') view = backtestsView();
  else view = rolloutsView();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', hash.startsWith(a.getAttribute('href')));
  state.view = view;
  document.getElementById('view').replaceChildren(view.root);
  follow(view.topic, view.id);
  refresh();
}

function signedIn(session) {
  state.session = session;
  document.getElementById('login-view').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = false;
  document.getElementById('who').textContent = session.operator + ' (' + session.role + ')';
  route();
}

document.addEventListener('visibilitychange', () => {
  if (!state.view) return;
  if (document.visibilityState === 'hidden') {
    if (state.stream) { state.stream.close(); state.stream = null; }
  } else if (!state.stream) {
    follow(state.view.topic, state.view.id);
    refresh();
  }
});

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = document.getElementById('token').value.trim();
    const { status, data } = await api('/api/login', { method: 'POST', body: { token } });
    document.getElementById('token').value = '';
    if (status !== 200) { document.getElementById('login-error').textContent = data.error || 'cannot sign in'; return; }
    document.getElementById('login-error').textContent = '';
    signedIn(data);
  });
  document.getElementById('sign-out').addEventListener('click', async () => {
    await api('/api/logout', { method: 'POST', body: {} });
    showLogin();
  });
  window.addEventListener('hashchange', route);
  const { status, data } = await api('/api/session');
  if (status === 200) signedIn(data); else showLogin();
});
