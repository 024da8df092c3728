import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { NODE_HEAP_FLAGS, SHARED_CORES_FLAGS, nodeFlagsFor } from '../../../chain/node/heap-flags.js';

test('node flags: heap sizes always; single-threaded V8 only when the processes outnumber the cores', () => {
  assert.deepEqual(nodeFlagsFor(12, 2), [...NODE_HEAP_FLAGS, ...SHARED_CORES_FLAGS]);
  assert.ok(nodeFlagsFor(12, 2).includes('--single-threaded'));
  assert.deepEqual(nodeFlagsFor(4, 4), [...NODE_HEAP_FLAGS], 'a core per process: background threads stay on');
  assert.deepEqual(nodeFlagsFor(1, 64), [...NODE_HEAP_FLAGS]);
});

test('node flags: this node accepts every flag on its command line (and a later --no-single-threaded)', () => {
  for (const argv of [nodeFlagsFor(12, 2), [...nodeFlagsFor(12, 2), '--no-single-threaded']]) {
    const r = spawnSync(process.execPath, [...argv, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `node ${argv.join(' ')}: ${r.stderr}`);
  }
  const bad = spawnSync(process.execPath, ['--no-such-v8-flag-here', '-e', '0'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'an unknown flag is refused, so the check above can fail');
});
