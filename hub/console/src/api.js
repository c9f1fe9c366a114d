// The operator API as the console uses it. The token lives in this
// module and in sessionStorage (gone when the tab closes); it travels
// only in the Authorization header, never in a URL.

const KEY = 'outpost.token';
let token = null;
try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }
let onSignedOut = () => {};

export function signedIn() { return token !== null; }
export function setToken(t) {
  token = t;
  try {
    if (t === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, t);
  } catch (e) { /* storage off: memory only */ }
}
export function whenSignedOut(fn) { onSignedOut = fn; }

// Integers past 2^53 (Counter64) keep every digit: JSON.parse hands the
// reviver the source text (Chromium 114+), and those become BigInt.
export function parseExact(text) {
  return JSON.parse(text, (k, v, ctx) => {
    if (typeof v === 'number' && !Number.isSafeInteger(v) && ctx &&
        typeof ctx.source === 'string' && /^-?\d+$/.test(ctx.source)) {
      return BigInt(ctx.source);
    }
    return v;
  });
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// fetch + bearer + exact JSON; throws ApiError with the hub's reason.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    signal: opts.signal,
  });
  const text = await resp.text();
  let data = null;
  if (text !== '') {
    try { data = parseExact(text); } catch (e) { data = null; }
  }
  if (!resp.ok) {
    const why = data && typeof data.error === 'string' ? data.error : `HTTP ${resp.status}`;
    if (resp.status === 401 && !opts.quiet401) onSignedOut(why);
    throw new ApiError(resp.status, why);
  }
  return opts.withHeaders ? { data, headers: resp.headers } : data;
}

export const enc = encodeURIComponent;

// Who the token is: GET /v1/whoami where the hub has roles; a hub
// without it knows only the admin token.
export async function whoami() {
  try {
    return await api('GET', '/v1/whoami', undefined, { quiet401: true });
  } catch (e) {
    if (e.status !== 404) throw e;
    await api('GET', '/v1/agents', undefined, { quiet401: true });
    return { name: 'admin', role: 'admin' };
  }
}

const FINAL = new Set(['done', 'failed', 'expired']);
export function isFinal(status) { return FINAL.has(status); }

// Long-poll one command until it is final (or stop() is called), calling
// update with every state seen: the same pattern as the agent's poll.
export function followCommand(id, update) {
  const ctl = new AbortController();
  (async () => {
    let failures = 0;
    while (!ctl.signal.aborted) {
      try {
        const c = await api('GET', `/v1/commands/${enc(id)}?wait=25`, undefined,
          { signal: ctl.signal });
        failures = 0;
        update(c, null);
        if (isFinal(c.status)) return;
      } catch (e) {
        if (ctl.signal.aborted) return;
        if (e instanceof ApiError && e.status < 500) { update(null, e); return; }
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** failures)));
      }
    }
  })();
  return () => ctl.abort();
}
