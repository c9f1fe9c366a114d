// The operator console: hash routes, sign-in, the agents page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, setToken, signedIn, whenSignedOut, whoami } from './api.js';
import { html, ago, bytes, useLive, ErrorLine } from './ui.js';
import { Devices } from './devices.js';
import { Device } from './device.js';
import { Console } from './console.js';

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return parts[0] === '' ? ['agents'] : parts;
}

function SignIn({ reason, onDone }) {
  const [tok, setTok] = useState('');
  const [error, setError] = useState(reason ? { message: reason } : null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setToken(tok.trim());
    try {
      onDone(await whoami());
    } catch (err) {
      setToken(null);
      setError(err);
    }
    setBusy(false);
  };
  return html`<main class="signin">
    <h1>Outpost</h1>
    <form id="signin" onSubmit=${submit}>
      <label for="token">Operator token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false"
        value=${tok} onInput=${(e) => setTok(e.target.value)} />
      <button type="submit" disabled=${busy || tok.trim() === ''}>Sign in</button>
    </form>
    <${ErrorLine} error=${error} />
    <p class="hint">The token stays in this tab (sessionStorage) and goes to the hub only in
    the Authorization header.</p>
  </main>`;
}

const online = (a) => (a.online ?? a.polling) === true;

// The spool backlog the agent reported with its last batch ("counters").
function spool(a) {
  const c = a.counters;
  const b = c && typeof c === 'object' ? c.spool_bytes : undefined;
  return b === undefined || b === null ? '–' : bytes(b);
}

function Agents() {
  const { data, error } = useLive((signal) => api('GET', '/v1/agents', undefined, { signal }), 5000, 'agents');
  const agents = data || [];
  return html`<section>
    <h2>Agents</h2>
    <${ErrorLine} error=${error} />
    <table id="agents" class="grid">
      <thead><tr><th>Agent</th><th>State</th><th>Version</th><th>Last seen</th>
        <th>Address</th><th>Spool backlog</th><th>Dropped samples</th></tr></thead>
      <tbody>${agents.map((a) => html`<tr key=${a.name} data-agent=${a.name}>
        <td><a href=${`#/agents/${encodeURIComponent(a.name)}`}>${a.name}</a></td>
        <td><span class=${online(a) ? 'state on' : 'state off'}>${online(a) ? 'online' : 'offline'}</span></td>
        <td>${a.version ?? '–'}</td>
        <td title=${a.last_seen ?? ''}>${ago(a.last_seen)}</td>
        <td>${a.address ?? '–'}</td>
        <td class="num">${spool(a)}</td>
        <td class="num">${a.dropped_samples === undefined || a.dropped_samples === null ? '–' : String(a.dropped_samples)}</td>
      </tr>`)}</tbody>
    </table>
    ${data && agents.length === 0 ? html`<p>No agents yet: <code>outpost-hub add-agent NAME</code>.</p>` : null}
  </section>`;
}

function Crumbs({ r }) {
  const out = [html`<a href="#/agents">Agents</a>`];
  if (r[0] === 'agents' && r[1]) {
    out.push(html`<a href=${`#/agents/${encodeURIComponent(r[1])}`}>${r[1]}</a>`);
    if (r[2] === 'devices' && r[3]) {
      out.push(html`<a href=${`#/agents/${encodeURIComponent(r[1])}/devices/${encodeURIComponent(r[3])}`}>${r[3]}</a>`);
      if (r[4] === 'console') out.push(html`<span>console</span>`);
    }
  }
  return html`<nav class="crumbs">${out.map((x, i) => html`${i ? ' / ' : ''}${x}`)}</nav>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [reason, setReason] = useState(null);
  const [r, setR] = useState(route());
  useEffect(() => {
    const f = () => setR(route());
    window.addEventListener('hashchange', f);
    whenSignedOut((why) => { setToken(null); setMe(null); setReason(`Signed out: ${why}`); });
    if (signedIn()) whoami().then(setMe, () => setToken(null) || setMe(null));
    return () => window.removeEventListener('hashchange', f);
  }, []);
  if (!me) return html`<${SignIn} reason=${reason} onDone=${(w) => { setReason(null); setMe(w); }} />`;
  const signOut = () => { setToken(null); setMe(null); setReason(null); };
  let page;
  if (r[0] === 'agents' && r[1] && r[2] === 'devices' && r[3] && r[4] === 'console') {
    // keyed: another device gets a fresh form (its own credential)
    page = html`<${Console} key=${`${r[1]}/${r[3]}`} agent=${r[1]} device=${r[3]} me=${me} />`;
  } else if (r[0] === 'agents' && r[1] && r[2] === 'devices' && r[3]) {
    page = html`<${Device} key=${`${r[1]}/${r[3]}`} agent=${r[1]} device=${r[3]} />`;
  } else if (r[0] === 'agents' && r[1]) {
    page = html`<${Devices} agent=${r[1]} />`;
  } else {
    page = html`<${Agents} />`;
  }
  return html`<div class="app">
    <header>
      <span class="brand">Outpost</span>
      <${Crumbs} r=${r} />
      <span class="me" id="me">${me.name} (${me.role})</span>
      <button type="button" id="signout" onClick=${signOut}>Sign out</button>
    </header>
    <main>${page}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
