// The inventory of one agent: search, sort, and pages of PAGE rows, so
// tens of thousands of devices cost one page of DOM.
import { useMemo, useState } from 'preact/hooks';
import { api, enc } from './api.js';
import { html, useLive, ErrorLine, msTime, compare, text } from './ui.js';

const PAGE = 100;

export function deviceId(d) {
  const a = String(d.address);
  return `${a.includes(':') ? `[${a}]` : a}:${d.port ?? 161}`;
}

const COLS = [
  ['address', 'Address', (d) => d.address],
  ['sys_name', 'sysName', (d) => d.sys_name],
  ['sys_descr', 'sysDescr', (d) => d.sys_descr],
  ['version', 'SNMP', (d) => d.version],
  ['credential', 'Credential', (d) => d.credential],
  ['last_seen_ms', 'Last seen', (d) => d.last_seen_ms],
];

// Addresses sort as numbers part by part (10.0.0.9 before 10.0.0.10).
function addrKey(d) {
  const a = String(d.address);
  const m = a.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  return m ? m.slice(1).map((x) => x.padStart(3, '0')).join('.') + `:${String(d.port).padStart(5, '0')}` : a;
}

export function Devices({ agent }) {
  const { data, error } = useLive((signal) => api('GET', `/v1/agents/${enc(agent)}/devices`,
    undefined, { signal }), 15000, agent);
  const [q, setQ] = useState('');
  const [sort, setSort] = useState(['address', 1]);
  const [page, setPage] = useState(0);
  // Sorted once per answer and order, each row with its search text
  // made once: a keystroke in the filter is one pass of includes().
  const sorted = useMemo(() => {
    const [key, dir] = sort;
    const get = key === 'address' ? addrKey : COLS.find((c) => c[0] === key)[2];
    return (data || []).map((d) => ({ d, k: get(d),
      s: COLS.map(([, , g]) => text(g(d))).join('\n').toLowerCase() }))
      .sort((a, b) => dir * compare(a.k, b.k));
  }, [data, sort]);
  const rows = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return (needle === '' ? sorted : sorted.filter((x) => x.s.includes(needle))).map((x) => x.d);
  }, [sorted, q]);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const p = Math.min(page, pages - 1);
  const shown = rows.slice(p * PAGE, (p + 1) * PAGE);
  const by = (key) => () => { setSort(([k, d]) => [key, k === key ? -d : 1]); setPage(0); };
  return html`<section>
    <h2>Devices of ${agent}</h2>
    <${ErrorLine} error=${error} />
    <div class="toolbar">
      <input id="filter" type="search" placeholder="Filter: address, name, description..."
        value=${q} onInput=${(e) => { setQ(e.target.value); setPage(0); }} />
      <span id="count">${rows.length} of ${(data || []).length} devices</span>
    </div>
    <table id="devices" class="grid">
      <thead><tr>${COLS.map(([key, label]) => html`<th key=${key}>
        <button type="button" class="sort" data-sort=${key} onClick=${by(key)}>${label}${sort[0] === key ? (sort[1] > 0 ? ' ▲' : ' ▼') : ''}</button></th>`)}</tr></thead>
      <tbody>${shown.map((d) => html`<tr key=${deviceId(d)} data-device=${deviceId(d)}>
        <td><a href=${`#/agents/${enc(agent)}/devices/${enc(deviceId(d))}`}>${deviceId(d)}</a></td>
        <td>${text(d.sys_name)}</td>
        <td class="descr">${text(d.sys_descr)}</td>
        <td>${text(d.version)}</td>
        <td>${text(d.credential)}</td>
        <td>${msTime(d.last_seen_ms)}</td>
      </tr>`)}</tbody>
    </table>
    ${pages > 1 ? html`<div class="pager">
      <button type="button" disabled=${p === 0} onClick=${() => setPage(p - 1)}>Previous</button>
      <span>page ${p + 1} of ${pages}</span>
      <button type="button" disabled=${p >= pages - 1} onClick=${() => setPage(p + 1)}>Next</button>
    </div>` : null}
  </section>`;
}
