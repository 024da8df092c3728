/** client/progress.ts: plain lines when not a TTY; spinner frames then a check or cross mark on a TTY. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressReporter } from '../../../client/progress.js';

function sink(isTTY: boolean): { isTTY: boolean; out: string[]; write(s: string): boolean } {
  const out: string[] = [];
  return { isTTY, out, write: (s: string) => (out.push(s), true) };
}

test('not a TTY: one plain line per step, nothing else', () => {
  const s = sink(false);
  const p = new ProgressReporter(s);
  p.step('discovery: 5 relays');
  p.step('building');
  p.done();
  assert.deepEqual(s.out, ['discovery: 5 relays\n', 'building\n']);
});

test('TTY: a spinner line per step, marked ✓ when the next starts and ✗ on failure', async () => {
  const s = sink(true);
  const p = new ProgressReporter(s);
  p.step('discovery');
  await new Promise((r) => setTimeout(r, 200));
  p.step('channels');
  p.done(false);
  const text = s.out.join('');
  assert.ok(s.out.filter((x) => x.includes('discovery') && !x.includes('✓')).length >= 2, 'the spinner redrew the running step');
  assert.ok(text.includes('\r\x1b[2K✓ discovery\n'));
  assert.ok(text.endsWith('\r\x1b[2K✗ channels\n'));
  const before = s.out.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.out.length, before, 'no redraw after done');
});
