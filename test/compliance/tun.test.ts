// Runs the Tun compliance suite against MemoryTun (with a scripted kernel side) and
// LinuxTun (a real interface inside a throwaway network namespace, tvt-<pid>-<n>; needs
// root, /dev/net/tun, iproute2, ping and `npm run build:native`).
import { execFile } from 'node:child_process';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { openLinuxTun } from '../../tun/linux.js';
import { MemoryTun } from '../../tun/memory.js';
import { buildEcho, parseEcho } from './tun.icmp.js';
import { tunCompliance, type TunHarness } from './tun.suite.js';

const run = promisify(execFile);
const LOCAL = '198.18.77.1';
const REMOTE = '198.18.77.2';
const MTU = 1400;

/** A scripted stack on the kernel side of a MemoryTun: it sends echo requests and counts what it receives. */
async function memoryHarness(): Promise<TunHarness> {
  const tun = new MemoryTun({ name: 'tvtmem0', mtu: MTU });
  let rx = 0;
  let seq = 0;
  const id = 0x5456;
  const waiting = new Map<number, () => void>();
  tun.onWrite((packets) => {
    for (const p of packets) {
      rx++;
      const e = parseEcho(p);
      if (e && e.type === 0 && e.src === REMOTE && e.dst === LOCAL && e.id === id) waiting.get(e.seq)?.();
    }
  });
  const request = (): { seq: number; pkt: Buffer } => {
    seq++;
    return { seq, pkt: buildEcho({ type: 8, src: LOCAL, dst: REMOTE, id, seq, payload: Buffer.alloc(56, seq & 0xff) }) };
  };
  return {
    tun,
    expectName: 'tvtmem0',
    expectMtu: MTU,
    local: LOCAL,
    remote: REMOTE,
    kernelMtu: async () => tun.mtu,
    ping: () => new Promise<boolean>((resolve) => {
      const r = request();
      const timer = setTimeout(() => { waiting.delete(r.seq); resolve(false); }, 1000);
      waiting.set(r.seq, () => { clearTimeout(timer); waiting.delete(r.seq); resolve(true); });
      tun.inject([r.pkt]);
    }),
    sendRequests: async (count) => {
      for (let i = 0; i < count; i++) tun.inject([request().pkt]);
    },
    kernelRx: async () => rx,
    exists: async () => !tun.isClosed,
    vanish: async () => tun.vanish(),
    dispose: async () => tun.close(),
  };
}

let nsCounter = 0;
const namespaces = new Set<string>();

async function deleteNamespace(ns: string): Promise<void> {
  if (!namespaces.delete(ns)) return;
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
}

/** A LinuxTun created inside a fresh network namespace, addressed LOCAL/24, link up. */
async function linuxHarness(): Promise<TunHarness> {
  const ns = `tvt-${process.pid}-${nsCounter++}`;
  const dev = 'tvt0';
  await run('ip', ['netns', 'add', ns]);
  namespaces.add(ns);
  let tun;
  try {
    tun = openLinuxTun({ name: dev, mtu: MTU, netns: ns });
    await run('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${LOCAL}/24`, 'dev', dev]);
  } catch (err) {
    tun?.close();
    await deleteNamespace(ns);
    throw err;
  }
  const opened = tun;
  const pingArgs = (extra: string[]) => ['netns', 'exec', ns, 'ping', '-n', '-q', ...extra, REMOTE];
  const linkJson = async (): Promise<{ mtu: number; stats64: { rx: { packets: number } } }> => {
    const { stdout } = await run('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', dev]);
    return (JSON.parse(stdout) as Array<{ mtu: number; stats64: { rx: { packets: number } } }>)[0]!;
  };
  return {
    tun: opened,
    expectName: dev,
    expectMtu: MTU,
    local: LOCAL,
    remote: REMOTE,
    kernelMtu: async () => (await linkJson()).mtu,
    ping: () => run('ip', pingArgs(['-c', '1', '-W', '2'])).then(() => true, () => false),
    // ping exits non-zero without replies (and with "Network unreachable" once the device is gone).
    sendRequests: (count) => run('ip', pingArgs(['-c', String(count), '-i', '0.01', '-W', '0.1'])).then(() => undefined, () => undefined),
    kernelRx: async () => (await linkJson()).stats64.rx.packets,
    exists: () => run('ip', ['-n', ns, 'link', 'show', 'dev', dev]).then(() => true, () => false),
    vanish: async () => { await run('ip', ['-n', ns, 'link', 'del', 'dev', dev]); },
    dispose: async () => {
      opened.close();
      await deleteNamespace(ns);
    },
  };
}

after(async () => {
  for (const ns of [...namespaces]) await deleteNamespace(ns);
});

tunCompliance('MemoryTun', memoryHarness);
tunCompliance('LinuxTun', linuxHarness);
