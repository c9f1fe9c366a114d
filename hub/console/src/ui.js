// Small shared pieces: htm bound to Preact, times, refresh timers.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

export const html = htm.bind(h);

export function ago(iso) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return String(iso);
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function msTime(ms) {
  if (ms === null || ms === undefined) return '–';
  return new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  let v = Number(n), i = 0;
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// Runs load() now and every ms while mounted; keeps the last data and
// error. A new key restarts it. load gets an AbortSignal.
export function useLive(load, ms, key) {
  const [state, setState] = useState({ data: null, error: null });
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    let timer = null, ctl = null;
    const run = async () => {
      ctl = new AbortController();
      try {
        const data = await load(ctl.signal);
        if (alive.current) setState({ data, error: null });
      } catch (e) {
        if (alive.current && e.name !== 'AbortError') setState((s) => ({ data: s.data, error: e }));
      }
      if (alive.current && ms > 0) timer = setTimeout(run, ms);
    };
    run();
    return () => { alive.current = false; clearTimeout(timer); if (ctl) ctl.abort(); };
  }, [key]);
  return state;
}

// A list kept live by long polling the hub, the pattern the agents use:
// the newest `keep` items once, then `path(newest)` (since=newest+1&wait=)
// which the hub holds until newer ones exist. Items are newest first by
// their `at` field; with `id`, an item seen before is not added again.
// Failures back off 2, 4, ... 30 s. A new key starts over.
export function useLongPollList(key, { path, at, keep, id }) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    const ctl = new AbortController();
    let list = [], failures = 0;
    setState({ data: null, error: null });
    (async () => {
      while (!ctl.signal.aborted) {
        const newest = list.length ? Number(list[0][at]) : null;
        try {
          const got = await api('GET', path(newest), undefined, { signal: ctl.signal });
          failures = 0;
          if (newest === null || got.length > 0) {
            const seen = id ? new Set(list.map(id)) : null;
            list = (seen ? got.filter((e) => !seen.has(id(e))) : got).concat(list)
              .sort((a, b) => Number(b[at]) - Number(a[at])).slice(0, keep);
            setState({ data: list, error: null });
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
          setState({ data: list, error: e });
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** failures)));
        }
      }
    })();
    return () => ctl.abort();
  }, [key]);
  return state;
}

export function ErrorLine({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

// A value from a device or the hub, as text. Objects (Hex-STRING cells)
// show their value; nothing here is ever parsed as markup.
export function text(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && 'value' in v) return String(v.value);
  return String(v);
}

// One collator for every comparison: localeCompare with options builds
// a new one per call, which makes sorting thousands of rows take seconds.
const collator = new Intl.Collator(undefined, { numeric: true });

// Sort rows by a key: numbers and BigInts by value, the rest as text.
export function compare(a, b) {
  const na = typeof a === 'number' || typeof a === 'bigint';
  const nb = typeof b === 'number' || typeof b === 'bigint';
  if (na && nb) return a < b ? -1 : a > b ? 1 : 0;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  return collator.compare(String(a), String(b));
}
