// The live console of one device: get, walk, set, poll now. A command
// is queued with POST /v1/agents/{agent}/commands and followed by long
// polls of GET /v1/commands/{id}?wait=, as the agent follows its hub.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc, followCommand, isFinal } from './api.js';
import { html, useLive, ErrorLine, msTime, text } from './ui.js';
import { deviceId } from './devices.js';

const TYPES = [
  ['snmp.get', 'get'], ['snmp.walk', 'walk'], ['snmp.set', 'set'], ['poll.now', 'poll now'],
];
const SET_TYPES = ['i', 'u', 'c', 's', 'x', 'd', 'n', 'o', 't', 'a'];
const CHUNK = 400;   // rows added per frame while a long walk renders

function commandBody(f, device) {
  if (f.type === 'poll.now') return { type: 'poll.now', args: { device } };
  const c = { type: f.type, target: device, credential: f.credential.trim() };
  const oids = f.oid.split(/[\s,]+/).filter(Boolean);
  if (f.type === 'snmp.get') c.args = { oids };
  else if (f.type === 'snmp.walk') c.args = { oid: oids[0] || '' };
  else c.args = { varbinds: [{ oid: oids[0] || '', type: f.setType, value: f.value }] };
  return c;
}

// Rows of a result, shown a chunk per animation frame so a walk of tens
// of thousands of varbinds fills the table without freezing the page.
function Varbinds({ rows }) {
  const [n, setN] = useState(Math.min(rows.length, CHUNK));
  useEffect(() => {
    setN(Math.min(rows.length, CHUNK));
    if (rows.length <= CHUNK) return undefined;
    let id = 0;
    const step = () => setN((k) => {
      const next = Math.min(rows.length, k + CHUNK);
      if (next < rows.length) id = requestAnimationFrame(step);
      return next;
    });
    id = requestAnimationFrame(step);
    return () => cancelAnimationFrame(id);
  }, [rows]);
  return html`<table id="varbinds" class="grid mono" data-rows=${n} data-total=${rows.length}>
    <thead><tr><th>OID</th><th>Type</th><th>Value</th></tr></thead>
    <tbody>${rows.slice(0, n).map((v, i) => html`<tr key=${i}>
      <td>${text(v.oid)}</td><td>${text(v.type)}</td><td>${text(v.value)}</td></tr>`)}</tbody>
  </table>`;
}

// What a poll now brought back: one line per profile (these samples are
// the command's result; the scheduled polls feed the device page).
function Samples({ samples }) {
  return html`<table id="samples" class="grid">
    <thead><tr><th>Profile</th><th>Taken</th><th>Scalars</th><th>Table rows</th></tr></thead>
    <tbody>${samples.map((s, i) => html`<tr key=${i}>
      <td>${text(s.profile)}</td><td>${msTime(s.ts)}</td>
      <td>${Object.keys(s.scalars || {}).length}</td>
      <td>${Object.entries(s.tables || {}).map(([n, t]) => `${n}: ${Object.keys(t.rows || {}).length}`).join(', ') || '–'}</td>
    </tr>`)}</tbody>
  </table>`;
}

function Result({ cmd }) {
  if (!cmd) return null;
  const r = cmd.result;
  const d = r && r.data;
  return html`<div id="result" class="result" data-status=${cmd.status}>
    <p>Command <code>${cmd.id}</code>: <strong id="status">${cmd.status}</strong>
      ${r ? html` · result ${r.status}${r.duration_ms !== undefined ? ` in ${String(r.duration_ms)} ms` : ''}` : ''}</p>
    ${r && r.error ? html`<p id="reason" class="error">${text(r.error)}</p>` : null}
    ${d && Array.isArray(d.errors) && d.errors.length ? html`<ul class="error">${d.errors.map((e) => html`<li>${text(e.oid)}: ${text(e.error)}</li>`)}</ul>` : null}
    ${d && Array.isArray(d.varbinds) ? html`<${Varbinds} rows=${d.varbinds} />` : null}
    ${d && Array.isArray(d.samples) ? html`<${Samples} samples=${d.samples} />` : null}
  </div>`;
}

// Created to finished, as the hub counts it (the history's duration_ms),
// else the agent's own run time.
function duration(c) {
  const r = c.result;
  const ms = c.duration_ms ?? (r ? r.duration_ms : null);
  return ms === undefined || ms === null ? '–' : `${String(ms)} ms`;
}

// The agent's command history from the hub (GET /v1/agents/{agent}/commands)
// where the hub has it; a hub without it shows this tab's commands only.
function History({ agent, local, tick }) {
  const h = useLive(async (signal) => {
    try {
      return await api('GET', `/v1/agents/${enc(agent)}/commands?limit=50`, undefined, { signal });
    } catch (e) {
      if (e.status === 404 || e.status === 405) return null;
      throw e;
    }
  }, 10000, `${agent}/${tick}`);
  const server = h.data && (Array.isArray(h.data) ? h.data : h.data.commands);
  const rows = server || local;
  return html`<section>
    <h3>Command history ${server ? '' : html`<small>(this tab)</small>`}</h3>
    <${ErrorLine} error=${h.error} />
    <table id="history" class="grid">
      <thead><tr><th>Created</th><th>Type</th><th>Target</th><th>Status</th><th>Sender</th><th>Duration</th></tr></thead>
      <tbody>${rows.map((c) => html`<tr key=${c.id} data-id=${c.id}>
        <td>${text(c.created)}</td><td>${text(c.type)}</td><td>${text(c.target ?? (c.command && c.command.target) ?? '')}</td>
        <td>${text(c.status)}${c.result && c.result.status && c.result.status !== 'ok' ? ` (${text(c.result.status)})` : ''}</td>
        <td>${text(c.sender ?? c.sent_by ?? '–')}</td><td>${duration(c)}</td></tr>`)}</tbody>
    </table>
  </section>`;
}

export function Console({ agent, device, me }) {
  const inv = useLive((signal) => api('GET', `/v1/agents/${enc(agent)}/devices`, undefined, { signal }), 0, agent);
  const entry = (inv.data || []).find((d) => deviceId(d) === device);
  const [f, setF] = useState({ type: 'snmp.get', oid: '1.3.6.1.2.1.1.1.0', credential: '', setType: 's', value: '' });
  const [cmd, setCmd] = useState(null);
  const [error, setError] = useState(null);
  const [local, setLocal] = useState([]);
  const [tick, setTick] = useState(0);
  const stop = useRef(null);
  useEffect(() => () => { if (stop.current) stop.current(); }, []);
  useEffect(() => {
    if (entry && f.credential === '') setF((x) => ({ ...x, credential: text(entry.credential) }));
  }, [entry]);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const readOnly = me && me.role === 'viewer';
  const send = async (e) => {
    e.preventDefault();
    setError(null);
    if (stop.current) stop.current();
    const body = commandBody(f, device);
    try {
      const { id } = await api('POST', `/v1/agents/${enc(agent)}/commands`, body);
      const first = { id, status: 'queued', type: body.type, target: device, sender: me.name, created: new Date().toISOString() };
      setCmd(first);
      setLocal((l) => [first, ...l].slice(0, 100));
      stop.current = followCommand(id, (c, err) => {
        if (err) { setError(err); return; }
        const row = { ...c, target: device, sender: c.sender ?? me.name };
        setCmd(row);
        setLocal((l) => l.map((x) => (x.id === id ? row : x)));
        if (isFinal(c.status)) setTick((t) => t + 1);
      });
    } catch (err) {
      setError(err);
    }
  };
  const oidLabel = f.type === 'snmp.get' ? 'OIDs (space separated)' : 'OID';
  return html`<section>
    <h2>Live console: ${device}</h2>
    <form id="command" class="command" onSubmit=${send}>
      <label>Command <select id="type" value=${f.type} onChange=${set('type')}>
        ${TYPES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
      ${f.type !== 'poll.now' ? html`
        <label>${oidLabel} <input id="oid" class="mono" value=${f.oid} onInput=${set('oid')} /></label>
        <label>Credential <input id="credential" value=${f.credential} onInput=${set('credential')} /></label>` : null}
      ${f.type === 'snmp.set' ? html`
        <label>Type <select id="settype" value=${f.setType} onChange=${set('setType')}>
          ${SET_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
        <label>Value <input id="value" value=${f.value} onInput=${set('value')} /></label>` : null}
      <button type="submit" id="send">Send</button>
      ${readOnly ? html`<span class="hint">Your role (viewer) may read only: the hub refuses commands.</span>` : null}
    </form>
    <${ErrorLine} error=${error} />
    <${Result} cmd=${cmd} />
    <${History} agent=${agent} local=${local} tick=${tick} />
  </section>`;
}
