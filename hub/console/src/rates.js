// Rates from SNMP counters: what the device page charts. Pure functions,
// no DOM, so `node --test` runs them (test/rates.test.js).
//
// A counter only ever grows and wraps at 2^32 (Counter32) or 2^64
// (Counter64). Between two readings it may also have been reset: the
// device restarted (RFC 2863 3.1.6: a discontinuity). Values are BigInt
// when they came from JSON with more digits than a double holds (the
// console parses them exactly) or plain numbers.

const TWO = { 32: 1n << 32n, 64: 1n << 64n };

function big(v) {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  return null;
}

// The growth of a counter from prev to cur, as a BigInt, or null when the
// two cannot be compared: a value missing, or a fall that is no wrap.
// A fall is one wrap when the wrapped growth is under half the counter's
// range (a real wrap goes from near the top to near zero); otherwise the
// counter was reset. maxDelta (optional, BigInt) caps what a wrap may
// add: more than the interface can carry in the interval is a reset.
export function counterDelta(prev, cur, bits = 64, maxDelta = null) {
  const a = big(prev), b = big(cur), range = TWO[bits];
  if (a === null || b === null || range === undefined) return null;
  if (a >= range || b >= range) return null;
  if (b >= a) return b - a;
  const wrapped = b + range - a;
  if (wrapped >= range / 2n) return null;
  if (maxDelta !== null && wrapped > maxDelta) return null;
  return wrapped;
}

// Boot time in ms of a sysUpTime reading (TimeTicks: 1/100 s) taken at ts.
export function bootTime(ts, ticks) {
  return ts - Number(ticks) * 10;
}

// Did the device restart in (t1, t2]? boots: boot times (ms) worked out
// from the system profile's sysUpTime readings. A reading's boot time
// only moves when the device restarted (or sysUpTime itself wrapped after
// 497 days), and a restart inside the interval resets every counter.
export function restartedBetween(boots, t1, t2) {
  for (const b of boots) if (b > t1 && b <= t2) return true;
  return false;
}

// points: [{ts (ms), value (counter)}] in time order (any order is
// sorted). Returns [{ts, rate}] per interval, rate in units/s times
// scale (8 turns octets into bits). An interval with a restart, a reset
// or no time passed has no point: the chart shows a gap, never a spike.
// opts: bits (32|64), scale, boots (see restartedBetween), maxPerSec (the
// most the counter can grow per second, e.g. from ifSpeed; null: unknown).
export function rates(points, opts = {}) {
  const { bits = 64, scale = 1, boots = [], maxPerSec = null } = opts;
  const p = points.filter((x) => x && Number.isFinite(x.ts))
    .slice().sort((x, y) => x.ts - y.ts);
  const out = [];
  for (let i = 1; i < p.length; i++) {
    const dt = (p[i].ts - p[i - 1].ts) / 1000;
    if (!(dt > 0)) continue;
    if (restartedBetween(boots, p[i - 1].ts, p[i].ts)) {
      out.push({ ts: p[i].ts, rate: null });
      continue;
    }
    const cap = maxPerSec ? BigInt(Math.ceil(maxPerSec * dt * 2)) : null;
    const d = counterDelta(p[i - 1].value, p[i].value, bits, cap);
    out.push({ ts: p[i].ts, rate: d === null ? null : Number(d) / dt * scale });
  }
  return out;
}

// 1234567 -> "1.23 Mbit/s" (SI, as link speeds are written).
export function formatBps(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}
