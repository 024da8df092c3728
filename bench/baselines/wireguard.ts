/**
 * Baseline peer: WireGuard between two testnet hosts. Userspace wireguard-go (foreground,
 * an interface name unique per namespace since its control socket path is global), MTU
 * 1420. Kernel WireGuard is used only if `ip link add … type wireguard` works.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../deploy/netns.js';
import type { Proc } from '../../deploy/procs.js';
import type { Host, Testnet } from '../../deploy/testnet.js';
import { waitFor, type TunnelBaseline } from './baseline.js';

const WG_PORT = 51821;
const MTU = 1420;
const A_IP = '198.19.2.1';
const B_IP = '198.19.2.2';

async function genKeys(): Promise<{ priv: string; pub: string }> {
  const priv = (await run(['wg', 'genkey'])).stdout.trim();
  const pub = (await run(['wg', 'pubkey'], { input: `${priv}\n` })).stdout.trim();
  return { priv, pub };
}

/** True if this kernel can create a WireGuard link (tested in a scratch namespace host). */
export async function kernelWireguardAvailable(net: Testnet, host: Host): Promise<boolean> {
  const r = await net.exec(host, ['ip', 'link', 'add', 'wgprobe0', 'type', 'wireguard'], { allowFail: true });
  if (r.code === 0) await net.exec(host, ['ip', 'link', 'del', 'wgprobe0'], { allowFail: true });
  return r.code === 0;
}

/**
 * Brings up a WireGuard tunnel `a` (A_IP) ↔ `b` (B_IP, endpoint b.ip:51821).
 * Returns the baseline handle; `stop()` removes the interfaces and daemons.
 */
export async function startWireguard(net: Testnet, a: Host, b: Host): Promise<TunnelBaseline> {
  const kernel = await kernelWireguardAvailable(net, a);
  const procs: Proc[] = [];
  const ka = await genKeys();
  const kb = await genKeys();
  const sides = [
    { host: a, dev: `${net.prefix}wg${a.name.slice(0, 4)}`, key: ka, peer: kb, ip: A_IP, peerIp: B_IP, endpoint: `${b.ip}:${WG_PORT}` },
    { host: b, dev: `${net.prefix}wg${b.name.slice(0, 4)}`, key: kb, peer: ka, ip: B_IP, peerIp: A_IP, endpoint: `${a.ip}:${WG_PORT}` },
  ];
  let version = 'kernel';
  if (!kernel) {
    const v = await run(['wireguard-go', '--version'], { allowFail: true });
    version = (v.stdout.split('\n')[0] ?? 'wireguard-go').trim();
  }
  try {
    for (const s of sides) {
      if (kernel) {
        await net.exec(s.host, ['ip', 'link', 'add', s.dev, 'type', 'wireguard']);
      } else {
        const p = net.spawn(s.host, ['wireguard-go', '-f', s.dev], {
          label: `${s.host.name}:wireguard-go`,
          env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
        });
        procs.push(p);
        await waitFor(async () => (await net.exec(s.host, ['wg', 'show', s.dev], { allowFail: true })).code === 0, 10_000, `wireguard-go ${s.dev}`);
      }
      const keyFile = join(net.dir, `${s.dev}.key`);
      writeFileSync(keyFile, `${s.key.priv}\n`);
      chmodSync(keyFile, 0o600);
      await net.exec(s.host, ['wg', 'set', s.dev, 'private-key', keyFile, 'listen-port', String(WG_PORT), 'peer', s.peer.pub, 'endpoint', s.endpoint, 'allowed-ips', `${s.peerIp}/32`]);
      await net.exec(s.host, ['ip', 'addr', 'add', `${s.ip}/30`, 'dev', s.dev]);
      await net.exec(s.host, ['ip', 'link', 'set', s.dev, 'mtu', String(MTU), 'up']);
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)));
    throw err;
  }
  return {
    peerIp: B_IP,
    impl: kernel ? 'kernel wireguard' : version,
    stop: async () => {
      for (const s of sides) await net.exec(s.host, ['ip', 'link', 'del', s.dev], { allowFail: true });
      await Promise.all(procs.map((p) => p.stop(2000)));
    },
  };
}
