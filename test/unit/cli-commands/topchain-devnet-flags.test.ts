import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { distBin } from '../../../common/paths.js';

function topchain(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [distBin('chain/cli'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('topchain devnet refuses bad --spares / --epoch-blocks with exit 2 before starting anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tva-devflags-'));
  const devnetDir = join(dir, 'devnet');
  try {
    const a = topchain(['devnet', '--dir', devnetDir, '--spares', '-1']);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /--spares: "-1" must be an integer 0\.\.64/);
    const b = topchain(['--json', 'devnet', '--dir', devnetDir, '--epoch-blocks', '1']);
    assert.equal(b.status, 2);
    assert.deepEqual(JSON.parse(b.stdout.trim()), { error: '--epoch-blocks: "1" must be an integer ≥ 2' });
    const c = topchain(['devnet', '--dir', devnetDir, '--spares', 'two']);
    assert.equal(c.status, 2);
    assert.equal(existsSync(devnetDir), false, 'nothing was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
