// One device: system info, and interface traffic as rates (bits/s)
// computed from the counters of the agent's samples, refreshed live.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api, enc } from './api.js';
import { html, useLive, useLongPollList, ErrorLine, msTime, text } from './ui.js';
import { bootTime, formatBps, rates } from './rates.js';
import { deviceId } from './devices.js';
import { Events } from './events.js';

const WAIT_S = 30;       // the samples long poll
const SAMPLES = 300;

const O = {
  sysDescr: '1.3.6.1.2.1.1.1.0', sysObjectID: '1.3.6.1.2.1.1.2.0',
  sysUpTime: '1.3.6.1.2.1.1.3.0', sysContact: '1.3.6.1.2.1.1.4.0',
  sysName: '1.3.6.1.2.1.1.5.0', sysLocation: '1.3.6.1.2.1.1.6.0',
  ifDescr: '1.3.6.1.2.1.2.2.1.2', ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifAlias: '1.3.6.1.2.1.31.1.1.1.18', ifSpeed: '1.3.6.1.2.1.2.2.1.5',
  ifHighSpeed: '1.3.6.1.2.1.31.1.1.1.15', ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6', ifInOctets: '1.3.6.1.2.1.2.2.1.10',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10', ifOutOctets: '1.3.6.1.2.1.2.2.1.16',
  ifInDiscards: '1.3.6.1.2.1.2.2.1.13', ifInErrors: '1.3.6.1.2.1.2.2.1.14',
  ifOutDiscards: '1.3.6.1.2.1.2.2.1.19', ifOutErrors: '1.3.6.1.2.1.2.2.1.20',
};
const OPER = { 1: 'up', 2: 'down', 3: 'testing', 4: 'unknown', 5: 'dormant', 6: 'notPresent', 7: 'lowerLayerDown' };
const bare = (oid) => String(oid).replace(/^\./, '');

function scalar(s, oid) {
  for (const [k, v] of Object.entries(s.scalars || {})) if (bare(k) === oid) return v;
  return undefined;
}

// {ifIndex: [{ts, cells: {oid: value}}]} in time order, from the
// interfaces samples.
function ifSeries(samples) {
  const by = {};
  for (const s of samples) {
    const t = s.tables && s.tables.interfaces;
    if (!t) continue;
    const cols = t.columns.map(bare);
    for (const [idx, row] of Object.entries(t.rows || {})) {
      const cells = {};
      cols.forEach((c, i) => { cells[c] = row[i]; });
      (by[idx] = by[idx] || []).push({ ts: Number(s.ts), cells });
    }
  }
  for (const k of Object.keys(by)) by[k].sort((a, b) => a.ts - b.ts);
  return by;
}

// Rates of one counter of one interface: the 64-bit column when the
// device has it, else the 32-bit one (as the agent polls them).
function counterRates(pts, hc, c32, scale, boots, maxPerSec) {
  const last = pts[pts.length - 1];
  const useHc = hc && last && last.cells[hc] !== undefined && last.cells[hc] !== null;
  const oid = useHc ? hc : c32;
  return rates(pts.map((p) => ({ ts: p.ts, value: p.cells[oid] })),
    { bits: useHc ? 64 : 32, scale, boots, maxPerSec });
}

// TimeTicks (1/100 s) as "3 d 4 h 5 min".
function uptime(ticks) {
  let s = Math.floor(Number(ticks) / 100);
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  return `${d ? `${d} d ` : ''}${hh} h ${Math.floor(s / 60)} min`;
}

function lastRate(r) {
  for (let i = r.length - 1; i >= 0; i--) if (r[i].rate !== null) return r[i].rate;
  return null;
}

function Chart({ label, series }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = useMemo(() => [series.in.map((p) => p.ts / 1000),
    series.in.map((p) => p.rate), series.out.map((p) => p.rate)], [series]);
  useEffect(() => {
    const opts = {
      width: Math.max(300, Math.min(1000, box.current.clientWidth || 800)),
      height: 260,
      scales: { x: { time: true } },
      series: [{},
        { label: 'in', stroke: '#1f8a4c', width: 2, value: (u, v) => formatBps(v) },
        { label: 'out', stroke: '#2459c4', width: 2, value: (u, v) => formatBps(v) }],
      axes: [{}, { size: 110, values: (u, vals) => vals.map(formatBps) }],
    };
    plot.current = new uPlot(opts, data, box.current);
    return () => { plot.current.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { if (plot.current) plot.current.setData(data); }, [data]);
  const points = series.in.filter((p) => p.rate !== null).length;
  return html`<figure class="chart">
    <figcaption>Traffic of ${label} (bits/s)</figcaption>
    <div id="chart" ref=${box} data-points=${points}></div>
  </figure>`;
}

// The device's samples, newest first: the newest SAMPLES once, then a
// long poll for newer ones (GET samples?since=&wait=: the hub answers when
// a sample of the agent arrives), the same pattern as the agents' polls.
// A poll's profiles share its ts and come in one batch, so since=newest+1
// misses none.
function useSamples(agent, device) {
  const base = `/v1/agents/${enc(agent)}/samples?device=${enc(device)}&`;
  return useLongPollList(`${agent} ${device}`, {
    at: 'ts', keep: SAMPLES,
    path: (newest) => base + (newest === null ? `limit=${SAMPLES}`
      : `since=${newest + 1}&limit=1000&wait=${WAIT_S}`),
  });
}

export function Device({ agent, device }) {
  const inv = useLive((signal) => api('GET', `/v1/agents/${enc(agent)}/devices`, undefined, { signal }), 30000, `${agent}`);
  const smp = useSamples(agent, device);
  const [sel, setSel] = useState(null);
  const entry = (inv.data || []).find((d) => deviceId(d) === device);
  const samples = smp.data || [];
  const sys = samples.find((s) => s.profile === 'system' && s.scalars && Object.keys(s.scalars).length);
  const boots = samples.filter((s) => scalar(s, O.sysUpTime) !== undefined)
    .map((s) => bootTime(Number(s.ts), scalar(s, O.sysUpTime)));
  const ifs = useMemo(() => {
    const series = ifSeries(samples);
    return Object.entries(series).sort((a, b) => Number(a[0]) - Number(b[0])).map(([idx, pts]) => {
      const c = pts[pts.length - 1].cells;
      // Labels (ifName, ifDescr, ifAlias) come with some polls only
      // ([poll] label_interval): the newest sample that has them.
      const label = (oid) => {
        for (let i = pts.length - 1; i >= 0; i--) {
          const v = pts[i].cells[oid];
          if (v !== undefined && v !== null) return v;
        }
        return undefined;
      };
      const hs = Number(c[O.ifHighSpeed] ?? 0), sp = Number(c[O.ifSpeed] ?? 0);
      const bps = hs > 0 ? hs * 1e6 : sp;
      const octMax = bps > 0 ? bps / 8 : null;
      const r = (hc, c32, scale, max) => counterRates(pts, hc, c32, scale, boots, max);
      return {
        idx, name: text(label(O.ifName) ?? label(O.ifDescr) ?? idx), alias: text(label(O.ifAlias)),
        oper: OPER[Number(c[O.ifOperStatus])] ?? text(c[O.ifOperStatus]), bps,
        in: r(O.ifHCInOctets, O.ifInOctets, 8, octMax), out: r(O.ifHCOutOctets, O.ifOutOctets, 8, octMax),
        inErr: r(null, O.ifInErrors, 1, null), outErr: r(null, O.ifOutErrors, 1, null),
        inDisc: r(null, O.ifInDiscards, 1, null), outDisc: r(null, O.ifOutDiscards, 1, null),
      };
    });
  }, [smp.data]);
  const chosen = ifs.find((i) => i.idx === sel) ||
    ifs.find((i) => i.oper === 'up' && (lastRate(i.in) || lastRate(i.out))) || ifs[0];
  const perSec = (r) => { const v = lastRate(r); return v === null ? '–' : v.toFixed(2); };
  const info = [
    ['Address', device], ['sysName', entry ? entry.sys_name : (sys && scalar(sys, O.sysName))],
    ['sysDescr', entry ? entry.sys_descr : (sys && scalar(sys, O.sysDescr))],
    ['sysObjectID', entry ? entry.sys_object_id : (sys && scalar(sys, O.sysObjectID))],
    ['sysLocation', sys && scalar(sys, O.sysLocation)], ['sysContact', sys && scalar(sys, O.sysContact)],
    ['sysUpTime', sys && scalar(sys, O.sysUpTime) !== undefined ? uptime(scalar(sys, O.sysUpTime)) : null],
    ['SNMP', entry && `${text(entry.version)} (credential ${text(entry.credential)})`],
    ['Last sample', samples.length ? msTime(samples[0].ts) : null],
  ];
  return html`<section>
    <h2>Device ${device} <a class="button" id="open-console" href=${`#/agents/${enc(agent)}/devices/${enc(device)}/console`}>Live console</a></h2>
    <${ErrorLine} error=${inv.error || smp.error} />
    <dl id="sysinfo" class="info">${info.map(([k, v]) => html`<dt>${k}</dt><dd data-key=${k}>${v === null || v === undefined ? '–' : text(v)}</dd>`)}</dl>
    ${chosen ? html`<${Chart} key=${chosen.idx} label=${`${chosen.name} (ifIndex ${chosen.idx})`} series=${chosen} />`
      : html`<p id="no-traffic">No interface samples yet (the agent's [poll] profiles include "interfaces"?).</p>`}
    <table id="interfaces" class="grid">
      <thead><tr><th>ifIndex</th><th>Name</th><th>Alias</th><th>Oper</th><th>Speed</th><th>In</th><th>Out</th>
        <th>In errors/s</th><th>Out errors/s</th><th>In discards/s</th><th>Out discards/s</th></tr></thead>
      <tbody>${ifs.map((i) => html`<tr key=${i.idx} class=${chosen && i.idx === chosen.idx ? 'chosen' : ''}
          onClick=${() => setSel(i.idx)}>
        <td>${i.idx}</td><td>${i.name}</td><td>${i.alias}</td><td>${i.oper}</td>
        <td>${i.bps ? formatBps(i.bps) : '–'}</td>
        <td class="num">${formatBps(lastRate(i.in))}</td><td class="num">${formatBps(lastRate(i.out))}</td>
        <td class="num">${perSec(i.inErr)}</td><td class="num">${perSec(i.outErr)}</td>
        <td class="num">${perSec(i.inDisc)}</td><td class="num">${perSec(i.outDisc)}</td>
      </tr>`)}</tbody>
    </table>
    <${Events} agent=${agent} device=${device} />
  </section>`;
}
