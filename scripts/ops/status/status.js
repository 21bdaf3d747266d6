// The status page's script: polls /api/status and draws it. Every value from data reaches the page as a
// text node or an attribute value (never as markup), so nothing it carries can run or restyle the page.
import { duration } from '/duration.js';

const STATES_UNRESOLVED = ['open', 'filling', 'failed', 'unfillable'];
let lastOk = 0;

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An ISO time as `HH:MM:SS` (UTC), with the date when it is not today's. */
function clock(isoOrMs) {
  if (isoOrMs === null || isoOrMs === undefined) return '-';
  const d = new Date(isoOrMs);
  if (Number.isNaN(d.getTime())) return '-';
  const text = d.toISOString();
  const today = new Date().toISOString().slice(0, 10);
  return text.slice(0, 10) === today ? text.slice(11, 19) : `${text.slice(0, 10)} ${text.slice(11, 19)}`;
}

function percent(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

function segment(kind, span, range, title, extra) {
  const width = range.toMs - range.fromMs;
  const node = el('div', { class: `seg ${kind}`, title, ...extra });
  node.style.left = `${((100 * (span.fromMs - range.fromMs)) / width).toFixed(4)}%`;
  node.style.width = `${((100 * (span.toMs - span.fromMs)) / width).toFixed(4)}%`;
  return node;
}

function timeline(stream, range) {
  const bar = el('div', { class: 'timeline', 'data-timeline': stream.stream });
  const t = stream.timeline;
  for (const s of t.backfill) {
    bar.append(segment('backfill', s, range, `backfilled ${clock(s.fromMs)} - ${clock(s.toMs)}`));
  }
  for (const s of t.live) {
    bar.append(segment('live', s, range, `live ${clock(s.fromMs)} - ${clock(s.toMs)}`));
  }
  for (const s of t.unresolved) {
    const kind = s.state === 'unfillable' ? 'unfillable' : 'gap';
    const title = `gap ${s.state} ${clock(s.fromMs)} - ${clock(s.toMs)} (${duration(s.toMs - s.fromMs)})`;
    bar.append(segment(kind, s, range, title, { 'data-state': s.state, 'data-gap-id': s.id }));
  }
  const span = range.toMs - range.fromMs;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el('span', {}, clock(range.fromMs + f * span)));
  return [bar, el('div', { class: 'axis' }, ticks)];
}

function lagLevel(lagMs) {
  if (lagMs === null) return 'stale';
  return lagMs < 30000 ? 'ok' : lagMs < 300000 ? 'late' : 'stale';
}

function streamHead(stream, range) {
  const f = stream.freshness;
  const lag = f.lagMs === null ? 'never recorded' : `${duration(f.lagMs)} behind`;
  const facts = [];
  const whole = range.toMs - range.fromMs;
  if (stream.coveredMs) {
    facts.push(`live ${percent(stream.coveredMs.live, whole)}`);
    facts.push(`backfilled ${percent(stream.coveredMs.backfill, whole)}`);
    facts.push(`no coverage ${duration(stream.uncoveredMs)}`);
  }
  const open = STATES_UNRESOLVED.reduce((n, s) => n + stream.gapCounts[s], 0);
  facts.push(`${open} gap${open === 1 ? '' : 's'} not filled`);
  return el(
    'div',
    { class: 'stream-head' },
    el('h2', {}, stream.stream),
    el(
      'span',
      { class: 'lag', 'data-level': lagLevel(f.lagMs), 'data-lag-ms': f.lagMs },
      `freshness: ${lag}`,
    ),
    el('span', { class: 'facts' }, `covered to ${clock(f.coveredTo)} (${f.from || 'no data'})`),
    el('span', { class: 'facts' }, facts.join(' · ')),
  );
}

function gapTable(stream) {
  if (stream.gaps.length === 0) return el('p', { class: 'note' }, 'no gaps in the ledger for this range');
  const rows = stream.gaps.map((g) =>
    el(
      'tr',
      { 'data-gap-id': g.id, 'data-state': g.state },
      el('td', {}, clock(g.from)),
      el('td', {}, clock(g.to)),
      el('td', {}, duration(g.durationMs)),
      el('td', {}, g.detectedBy),
      el('td', { class: 'state', 'data-state': g.state }, g.state),
      el('td', {}, g.attempts),
      el('td', {}, g.rowsBackfilled),
      el('td', {}, duration(g.fillLatencyMs)),
      el('td', { class: 'reason' }, g.reason || ''),
    ),
  );
  const head = ['from', 'to', 'length', 'detected by', 'state', 'attempts', 'rows', 'filled after', 'reason'];
  const more = stream.gapsNotListed > 0 ? ` (${stream.gapsNotListed} older not listed)` : '';
  return el(
    'table',
    { class: 'gaps' },
    el('caption', {}, `gap ledger${more}`),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h) => el('th', {}, h)),
      ),
    ),
    el('tbody', {}, rows),
  );
}

function quarantineTable(rows, withStream) {
  const head = [...(withStream ? ['stream'] : []), 'reason', 'count', 'last'];
  return el(
    'table',
    { class: 'quarantine' },
    el('caption', {}, 'quarantine by reason'),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h) => el('th', {}, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((q) =>
        el(
          'tr',
          { 'data-reason': q.reason },
          withStream ? el('td', {}, q.stream === null ? '(none named)' : q.stream) : null,
          el('td', {}, q.reason),
          el('td', {}, q.count),
          el('td', {}, clock(q.lastAt)),
        ),
      ),
    ),
  );
}

function render(status) {
  const range = status.range;
  const d = status.deployment;
  document.getElementById('deployment').textContent =
    `${d.projectId} · dataset ${d.dataset} · last ${duration(range.toMs - range.fromMs)} ` +
    `(${clock(range.fromMs)} - ${clock(range.toMs)} UTC)`;
  const errors = status.errors.map((e) => el('p', { 'data-source': e.source }, `${e.source}: ${e.message}`));
  for (const [what, cut] of Object.entries(status.truncated)) {
    if (cut)
      errors.push(
        el('p', { 'data-source': what }, `${what}: more rows than shown; the oldest were not read`),
      );
  }
  document.getElementById('errors').replaceChildren(...errors);
  const sections = status.streams.map((s) =>
    el(
      'section',
      { class: 'stream', 'data-stream': s.stream },
      streamHead(s, range),
      timeline(s, range),
      gapTable(s),
      s.quarantine.length > 0
        ? quarantineTable(s.quarantine, false)
        : el('p', { class: 'note' }, 'nothing quarantined'),
    ),
  );
  document.getElementById('streams').replaceChildren(...sections);
  const other = document.getElementById('quarantine-other');
  other.hidden = status.quarantineOther.length === 0;
  other.querySelector('table').replaceWith(quarantineTable(status.quarantineOther, true));
}

async function poll() {
  let refreshMs = 10000;
  const updated = document.getElementById('updated');
  try {
    const response = await fetch('/api/status', { cache: 'no-store' });
    const status = await response.json();
    refreshMs = status.refreshMs;
    render(status);
    lastOk = Date.now();
    updated.dataset.state = status.errors.length > 0 ? 'stale' : 'ok';
    updated.textContent = `read at ${clock(status.generatedAt)} UTC, next in ${duration(refreshMs)}`;
  } catch (error) {
    updated.dataset.state = 'stale';
    const since = lastOk ? `last good read ${duration(Date.now() - lastOk)} ago` : 'no good read yet';
    updated.textContent = `cannot read the status (${error.message}); ${since}`;
  }
  setTimeout(poll, refreshMs);
}

poll();
