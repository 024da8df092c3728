import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessExitedError, ProcessGroup, WaitTimeoutError } from '../../../deploy/procs.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('waitForEvent sees a JSON event line, stop() ends the process with SIGTERM', async () => {
  const g = new ProcessGroup();
  const p = g.spawn('sleeper', ['sh', '-c', 'echo noise; echo \'{"event":"listening","port":1}\'; exec sleep 30']);
  const ev = await p.waitForEvent('listening', 5000);
  assert.equal(ev['port'], 1);
  assert.deepEqual(g.live.map((x) => x.pid), [p.pid]);
  const st = await p.stop(2000);
  assert.equal(st.signal, 'SIGTERM');
  assert.equal(alive(p.pid), false);
  assert.equal(g.live.length, 0);
});

test('a process ignoring SIGTERM is killed after the grace period', async () => {
  const g = new ProcessGroup();
  const p = g.spawn('stubborn', ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done']);
  await p.waitForLine((l) => (l === 'ready' ? true : undefined), { timeoutMs: 5000 });
  await g.stopAll(300);
  assert.equal(p.exitStatus?.signal, 'SIGKILL');
});

test('waitForLine rejects when the process exits first, and on timeout', async () => {
  const g = new ProcessGroup();
  const quick = g.spawn('quick', ['sh', '-c', 'echo oops >&2; exit 3']);
  await assert.rejects(quick.waitForEvent('listening', 5000), (err: Error) => err instanceof ProcessExitedError && /oops/.test(err.message));
  assert.equal((await quick.exited).code, 3);
  const slow = g.spawn('slow', ['sleep', '30']);
  await assert.rejects(slow.waitForEvent('up', 100), WaitTimeoutError);
  g.killAllSync();
  assert.equal((await slow.exited).signal, 'SIGKILL');
});

test('stop() also ends the process group (children of the process)', async () => {
  const g = new ProcessGroup();
  const p = g.spawn('parent', ['sh', '-c', 'sleep 30 & echo $!; wait']);
  const child = await p.waitForLine((l) => (/^\d+$/.test(l) ? Number(l) : undefined), { timeoutMs: 5000 });
  assert.equal(alive(child), true);
  await p.stop(2000);
  for (let i = 0; i < 40 && alive(child); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(child), false, 'child in the group is gone');
});
