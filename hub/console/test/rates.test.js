// node --test: the rate arithmetic the device page charts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { counterDelta, rates, bootTime, restartedBetween, formatBps } from '../src/rates.js';

test('growth within range', () => {
  assert.equal(counterDelta(100, 350, 32), 250n);
  assert.equal(counterDelta(5n, 5n, 64), 0n);
});

test('Counter32 wrap', () => {
  // 2^32 - 100 -> 50: 150 octets, not minus four billion
  assert.equal(counterDelta(4294967196, 50, 32), 150n);
});

test('Counter64 wrap, exact beyond 2^53', () => {
  const top = (1n << 64n) - 10n;
  assert.equal(counterDelta(top, 20n, 64), 30n);
  // digits a double cannot hold: 2^53 + 1 -> 2^53 + 3
  assert.equal(counterDelta((1n << 53n) + 1n, (1n << 53n) + 3n, 64), 2n);
});

test('a fall that is no wrap is a reset', () => {
  // a restarted device: 1,000,000 -> 10 is not 2^64 - 999,990
  assert.equal(counterDelta(1000000, 10, 64), null);
  assert.equal(counterDelta(3000000000, 10, 32), 4294967296n - 3000000000n + 10n);
  assert.equal(counterDelta(1000, 10, 32), null);
});

test('a wrap larger than the link can carry is a reset', () => {
  assert.equal(counterDelta(4294967000, 1000, 32, 2000n), 1296n);
  assert.equal(counterDelta(4294967000, 1000, 32, 1000n), null);
});

test('bad values', () => {
  assert.equal(counterDelta(null, 5, 32), null);
  assert.equal(counterDelta(1, 2, 16), null);
  assert.equal(counterDelta(-1, 2, 32), null);
  assert.equal(counterDelta(1, 4294967296, 32), null);
});

test('rates in bits per second', () => {
  const r = rates([{ ts: 0, value: 0 }, { ts: 10000, value: 1250 },
    { ts: 20000, value: 3750 }], { bits: 64, scale: 8 });
  assert.deepEqual(r, [{ ts: 10000, rate: 1000 }, { ts: 20000, rate: 2000 }]);
});

test('rates across a Counter32 wrap', () => {
  const r = rates([{ ts: 1000, value: 4294967000 }, { ts: 2000, value: 704 }],
    { bits: 32, scale: 8 });
  assert.deepEqual(r, [{ ts: 2000, rate: 1000 * 8 }]);
});

test('a restart leaves a gap, never a spike', () => {
  // uptime read at 25 s says the device booted at 15 s
  const boots = [bootTime(25000, 1000)];
  assert.equal(boots[0], 15000);
  assert.ok(restartedBetween(boots, 10000, 20000));
  assert.ok(!restartedBetween(boots, 20000, 30000));
  const r = rates([{ ts: 0, value: 500 }, { ts: 10000, value: 900 },
    { ts: 20000, value: 4294967000 }, { ts: 30000, value: 4294967100 }],
  { bits: 32, boots });
  assert.deepEqual(r.map((x) => x.rate), [40, null, 10]);
});

test('unsorted input and equal timestamps', () => {
  const r = rates([{ ts: 2000, value: 20 }, { ts: 1000, value: 10 },
    { ts: 2000, value: 20 }], { bits: 64 });
  assert.deepEqual(r, [{ ts: 2000, rate: 10 }]);
});

test('formatBps', () => {
  assert.equal(formatBps(999), '999 bit/s');
  assert.equal(formatBps(1234567), '1.23 Mbit/s');
  assert.equal(formatBps(null), '–');
});
