import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkSafeTarget, DnsError, DnsManager, DnsSafetyError } from '../../../client/dns.js';
import { silentLogger } from '../../../common/log.js';
import { repoRoot } from '../../../common/paths.js';
import { Netns } from '../relay-io/netns-helper.js';

function setup(content: string | undefined): { dir: string; conf: string; state: string; mgr: () => DnsManager } {
  const dir = mkdtempSync(join(tmpdir(), 'tva-dns-'));
  const conf = join(dir, 'resolv.conf');
  if (content !== undefined) writeFileSync(conf, content);
  const state = join(dir, 'state');
  return { dir, conf, state, mgr: () => new DnsManager({ resolvConf: conf, stateDir: state, log: silentLogger() }) };
}

const ORIGINAL = 'nameserver 10.255.255.53\nsearch example\n';

test('apply writes the tunnel resolver in place and restore puts the original back', () => {
  const s = setup(ORIGINAL);
  try {
    const inodeBefore = statSync(s.conf).ino;
    const m = s.mgr();
    m.apply(['198.18.9.53', '198.18.9.54']);
    const written = readFileSync(s.conf, 'utf8');
    assert.match(written, /^# written by topvpn/);
    assert.match(written, /nameserver 198\.18\.9\.53\nnameserver 198\.18\.9\.54\n$/);
    assert.doesNotMatch(written, /10\.255\.255\.53/);
    assert.equal(statSync(s.conf).ino, inodeBefore, 'rewritten in place (bind mounts survive)');
    assert.ok(existsSync(join(s.state, 'resolv.conf.backup')));
    assert.throws(() => m.apply(['198.18.9.55']), DnsError);
    m.restore();
    assert.equal(readFileSync(s.conf, 'utf8'), ORIGINAL);
    assert.equal(statSync(s.conf).ino, inodeBefore);
    assert.ok(!existsSync(join(s.state, 'resolv.conf.backup')));
    m.restore(); // idempotent
    assert.equal(readFileSync(s.conf, 'utf8'), ORIGINAL);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('writes through a symlinked resolv.conf without replacing the link', () => {
  const s = setup(undefined);
  try {
    const target = join(s.dir, 'real.conf');
    writeFileSync(target, ORIGINAL);
    symlinkSync(target, s.conf);
    const m = s.mgr();
    m.apply(['198.18.9.53']);
    assert.match(readFileSync(target, 'utf8'), /198\.18\.9\.53/);
    m.restore();
    assert.equal(readFileSync(target, 'utf8'), ORIGINAL);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a backup left by a crashed run is restored by the next run', () => {
  const s = setup(ORIGINAL);
  try {
    s.mgr().apply(['198.18.9.53']); // the "crashed" run never restores
    assert.match(readFileSync(s.conf, 'utf8'), /198\.18\.9\.53/);
    const next = s.mgr();
    assert.equal(next.recoverStale(), true);
    assert.equal(readFileSync(s.conf, 'utf8'), ORIGINAL);
    assert.equal(next.recoverStale(), false);
    next.apply(['198.18.9.54']); // and the new run can apply again
    next.restore();
    assert.equal(readFileSync(s.conf, 'utf8'), ORIGINAL);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a resolver changed by someone else meanwhile is left alone', () => {
  const s = setup(ORIGINAL);
  try {
    const m = s.mgr();
    m.apply(['198.18.9.53']);
    writeFileSync(s.conf, 'nameserver 203.0.113.1\n');
    m.restore();
    assert.equal(readFileSync(s.conf, 'utf8'), 'nameserver 203.0.113.1\n');
    assert.ok(!existsSync(join(s.state, 'resolv.conf.backup')));
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a missing resolv.conf is created and removed-content restored as empty', () => {
  const s = setup(undefined);
  try {
    const m = s.mgr();
    m.apply(['198.18.9.53']);
    assert.match(readFileSync(s.conf, 'utf8'), /198\.18\.9\.53/);
    m.restore();
    assert.equal(readFileSync(s.conf, 'utf8'), '');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('checkSafeTarget allows explicit and non-default paths', () => {
  assert.doesNotThrow(() => checkSafeTarget('/tmp/anything.conf', false));
  assert.doesNotThrow(() => checkSafeTarget('/etc/resolv.conf', true));
  assert.ok(new DnsSafetyError('x') instanceof DnsError);
});

test('inside a netns, /etc/resolv.conf is refused unless /etc/netns/NS/resolv.conf makes it private', () => {
  const ns = Netns.create('dns');
  const nsEtc = join('/etc/netns', ns.name);
  const probe = `import(${JSON.stringify(join(repoRoot(), 'dist', 'client', 'dns.js'))}).then((m) => { m.checkSafeTarget('/etc/resolv.conf', false); console.log('allowed'); }, (e) => { throw e; })`;
  const check = (): { status: number | null; out: string } => {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', probe], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  try {
    const shared = check();
    assert.notEqual(shared.status, 0);
    assert.match(shared.out, /refusing to rewrite \/etc\/resolv\.conf/);
    mkdirSync(nsEtc, { recursive: true });
    writeFileSync(join(nsEtc, 'resolv.conf'), 'nameserver 198.18.9.53\n');
    const priv = check();
    assert.equal(priv.status, 0, priv.out);
    assert.match(priv.out, /allowed/);
  } finally {
    rmSync(nsEtc, { recursive: true, force: true });
    ns.destroy();
  }
});

test('update points an applied resolver at a new exit; restore still brings back the original; a foreign edit is left alone', () => {
  const s = setup(ORIGINAL);
  try {
    const m = s.mgr();
    assert.throws(() => m.update(['198.18.9.60']), DnsError, 'nothing applied yet');
    m.apply(['198.18.9.53']);
    assert.equal(m.update(['198.18.9.60']), true);
    assert.match(readFileSync(s.conf, 'utf8'), /^# written by topvpn[^]*nameserver 198\.18\.9\.60\n$/);
    assert.doesNotMatch(readFileSync(s.conf, 'utf8'), /198\.18\.9\.53/);
    // A crash now: the next run's recovery restores the original, not the first exit's resolver.
    assert.equal(s.mgr().recoverStale(), true);
    assert.equal(readFileSync(s.conf, 'utf8'), ORIGINAL);

    const m2 = s.mgr();
    m2.apply(['198.18.9.53']);
    writeFileSync(s.conf, 'nameserver 203.0.113.1\n'); // the user (or another tool) edits it
    assert.equal(m2.update(['198.18.9.61']), false);
    assert.equal(readFileSync(s.conf, 'utf8'), 'nameserver 203.0.113.1\n');
    m2.restore();
    assert.equal(readFileSync(s.conf, 'utf8'), 'nameserver 203.0.113.1\n', 'restore leaves a foreign edit alone');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});
