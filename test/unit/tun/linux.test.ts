// LinuxTun open errors. Needs root and the built addon; devices are made in a throwaway
// network namespace (tvt-u<pid>) that is always deleted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTunAddon, nativeAddonPath, openLinuxTun } from '../../../tun/linux.js';
import { TunError } from '../../../tun/tun.js';

const ns = `tvt-u${process.pid}`;
before(() => execFileSync('ip', ['netns', 'add', ns]));
after(() => execFileSync('ip', ['netns', 'del', ns]));

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TunError, `expected TunError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('did not throw');
};

test('a name longer than 15 characters is refused before any syscall', () => {
  assert.equal(codeOf(() => openLinuxTun({ name: 'a'.repeat(16), netns: ns })), 'ENAMETOOLONG');
});

test('a second open of a name in use fails with EBUSY and a hint', () => {
  const t = openLinuxTun({ name: 'tvtbusy', netns: ns });
  try {
    assert.throws(() => openLinuxTun({ name: 'tvtbusy', netns: ns }), /EBUSY|busy|taken/i);
    assert.equal(codeOf(() => openLinuxTun({ name: 'tvtbusy', netns: ns })), 'EBUSY');
  } finally {
    t.close();
  }
  const again = openLinuxTun({ name: 'tvtbusy', netns: ns });
  again.close();
});

test('a missing namespace fails with ENOENT', () => {
  assert.equal(codeOf(() => openLinuxTun({ name: 'tvtx', netns: `${ns}-missing` })), 'ENOENT');
});

test('an impossible MTU fails with EINVAL and leaves no interface behind', () => {
  assert.equal(codeOf(() => openLinuxTun({ name: 'tvtmtu', mtu: 20, netns: ns })), 'EINVAL');
  const links = execFileSync('ip', ['-n', ns, '-o', 'link']).toString();
  assert.doesNotMatch(links, /tvtmtu/);
});

test('"%d" names are expanded by the kernel; the default MTU is reported', () => {
  const a = openLinuxTun({ name: 'tvtd%d', netns: ns });
  const b = openLinuxTun({ name: 'tvtd%d', netns: ns });
  try {
    assert.deepEqual([a.name, b.name].sort(), ['tvtd0', 'tvtd1']);
    assert.equal(a.mtu, 1500);
  } finally {
    a.close();
    b.close();
  }
});

test('a backlog of 100 packets is read in batches of at most 64, the first one full', async () => {
  const t = openLinuxTun({ name: 'tvtbatch', mtu: 1400, netns: ns });
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'dev', 'tvtbatch', 'up']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '198.18.78.1/24', 'dev', 'tvtbatch']);
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', '100', '-i', '0.002', '-W', '0.1', '198.18.78.2'], { stdio: 'ignore' });
    } catch {
      // no replies: ping exits 1, the requests are queued in the device
    }
    const sizes: number[] = [];
    let echoes = 0;
    await new Promise<void>((resolve) => t.onPackets((batch) => {
      sizes.push(batch.length);
      echoes += batch.filter((p) => p[9] === 1 && p[20] === 8).length;
      if (echoes >= 100) resolve();
    }));
    assert.equal(sizes[0], 64);
    assert.ok(sizes.every((n) => n >= 1 && n <= 64), `batch sizes ${sizes.join(',')}`);
    assert.equal(echoes, 100);
  } finally {
    t.close();
  }
});

test('a missing or foreign addon file gives a TunError that says how to build it', () => {
  assert.throws(() => loadTunAddon('/nonexistent/tun.node'), (e: unknown) => e instanceof TunError && /missing.*npm run build:native/.test(e.message));
  const foreign = join(tmpdir(), `tvt-not-an-addon-${process.pid}.node`);
  writeFileSync(foreign, 'not an ELF file');
  try {
    assert.throws(() => loadTunAddon(foreign), (e: unknown) => e instanceof TunError && /cannot load.*npm run build:native/.test(e.message));
  } finally {
    unlinkSync(foreign);
  }
  assert.equal(typeof loadTunAddon(nativeAddonPath()), 'function');
});

test('without CAP_NET_ADMIN the open fails with EPERM and says which capability is missing', () => {
  const script = `import('${join(dirname(fileURLToPath(import.meta.url)), '../../../tun/linux.js')}').then((m) => {
    try { m.openLinuxTun({ name: 'tvtperm', netns: '${ns}' }); console.log('opened'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
  });`;
  const out = execFileSync('setpriv', ['--bounding-set', '-net_admin', process.execPath, '--input-type=module', '-e', script]).toString();
  const e = JSON.parse(out) as { name: string; code: string; message: string };
  assert.equal(e.name, 'TunError');
  assert.equal(e.code, 'EPERM');
  assert.match(e.message, /CAP_NET_ADMIN/);
});
