/**
 * The committed files under deploy/{systemd,docker,k8s,prometheus} are exactly what
 * deploy/generate.ts renders from the default deploy config (regenerate with
 * `node dist/deploy/generate.js`), and nothing stale lies beside them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_DEPLOY_CONFIG } from '../../../deploy/gen-config.js';
import { deployDir, drifted, renderAll, writeAll } from '../../../deploy/generate.js';

const GENERATED_DIRS = ['systemd', 'docker', 'k8s', 'prometheus'];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

test('regenerating yields byte-identical committed files', () => {
  const files = renderAll();
  assert.ok(files.size > 10, `expected many generated files, got ${files.size}`);
  assert.deepEqual(drifted(files, deployDir()), [], 'run `node dist/deploy/generate.js` and commit the result');
});

test('rendering is deterministic', () => {
  const a = renderAll(DEFAULT_DEPLOY_CONFIG);
  const b = renderAll(DEFAULT_DEPLOY_CONFIG);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.equal(b.get(k), v, k);
});

test('no stale files in the generated directories', () => {
  const files = renderAll();
  const root = deployDir();
  // Operator-made bootstrap material is never committed and not generated.
  const onDisk = GENERATED_DIRS.flatMap((d) => walk(join(root, d))).map((p) => relative(root, p)).filter((p) => !p.startsWith('docker/bootstrap/'));
  const stale = onDisk.filter((p) => !files.has(p));
  assert.deepEqual(stale, []);
});

test('the drift check notices an edited file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvk-drift-'));
  try {
    const files = renderAll();
    writeAll(files, dir);
    assert.deepEqual(drifted(files, dir), []);
    writeFileSync(join(dir, 'systemd/toprelay-relay-exit.service'), files.get('systemd/toprelay-relay-exit.service')!.replace('Restart=on-failure', 'Restart=always'));
    rmSync(join(dir, 'k8s/relays.yaml'));
    assert.deepEqual(drifted(files, dir).sort(), ['k8s/relays.yaml', 'systemd/toprelay-relay-exit.service']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
