/**
 * Baseline peer: OpenVPN 2.6 peer-to-peer TLS over UDP between two testnet hosts, with the
 * settings that were fair here: one data cipher (`data-ciphers`), `disable-dco`, `fast-io`,
 * sndbuf/rcvbuf 2097152, txqueuelen 1000, tls-crypt, `dh none`; a throwaway CA made with
 * openssl (EC P-256) in the testnet's work dir.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../deploy/netns.js';
import type { Proc } from '../../deploy/procs.js';
import type { Host, Testnet } from '../../deploy/testnet.js';
import { BaselineUnavailableError, type TunnelBaseline } from './baseline.js';

export type OpenvpnCipher = 'CHACHA20-POLY1305' | 'AES-256-GCM';
export const OPENVPN_CIPHERS: readonly OpenvpnCipher[] = ['CHACHA20-POLY1305', 'AES-256-GCM'];

const PORT = 1194;
const CLIENT_IP = '198.19.3.1';
const SERVER_IP = '198.19.3.2';

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  tlsCrypt: string;
}

/** Makes a throwaway CA, a server and a client certificate and a tls-crypt key under `dir`. */
export async function makePki(dir: string): Promise<Pki> {
  const f = (n: string) => join(dir, `ovpn-${n}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run(['openssl', 'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=topvpn-bench-ca']);
  for (const [who, eku] of [['server', 'serverAuth'], ['client', 'clientAuth']] as const) {
    writeFileSync(f(`${who}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=${eku}\n`);
    await run(['openssl', 'req', ...ec, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who}`]);
    await run(['openssl', 'x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.crt`), '-days', '2', '-extfile', f(`${who}.ext`)]);
  }
  await run(['openvpn', '--genkey', 'tls-crypt', f('tc.key')]);
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'), tlsCrypt: f('tc.key') };
}

function common(cipher: OpenvpnCipher, dev: string): string[] {
  return [
    '--dev', dev, '--dev-type', 'tun', '--proto', 'udp',
    '--data-ciphers', cipher, '--data-ciphers-fallback', cipher,
    '--disable-dco', '--fast-io', '--sndbuf', '2097152', '--rcvbuf', '2097152', '--txqueuelen', '1000',
    '--verb', '3', '--mute-replay-warnings', '--ping', '5',
  ];
}

/**
 * OpenVPN tunnel: `client` host (CLIENT_IP) → `server` host (SERVER_IP, UDP 1194).
 * Waits for both sides' "Initialization Sequence Completed" and checks the data-channel
 * cipher actually negotiated is `cipher`.
 */
export async function startOpenvpn(net: Testnet, client: Host, server: Host, cipher: OpenvpnCipher, pki: Pki): Promise<TunnelBaseline> {
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop(2000)));
  };
  try {
    const srv = net.spawn(server, ['openvpn', ...common(cipher, `${net.prefix}ovs`), '--lport', String(PORT), '--ifconfig', SERVER_IP, CLIENT_IP,
      '--tls-server', '--dh', 'none', '--ca', pki.ca, '--cert', pki.serverCert, '--key', pki.serverKey, '--tls-crypt', pki.tlsCrypt], { label: `${server.name}:openvpn` });
    procs.push(srv);
    const cli = net.spawn(client, ['openvpn', ...common(cipher, `${net.prefix}ovc`), '--nobind', '--remote', server.ip, String(PORT), '--ifconfig', CLIENT_IP, SERVER_IP,
      '--tls-client', '--remote-cert-tls', 'server', '--ca', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey, '--tls-crypt', pki.tlsCrypt], { label: `${client.name}:openvpn` });
    procs.push(cli);
    const ready = (l: string) => (l.includes('Initialization Sequence Completed') ? true : undefined);
    await Promise.all([srv.waitForLine(ready, { timeoutMs: 20_000 }), cli.waitForLine(ready, { timeoutMs: 20_000 })]);
    const used = cli.lines('stdout').map((l) => /Data Channel: cipher '([^']+)'/.exec(l)?.[1]).find((c) => c !== undefined);
    if (used !== undefined && used !== cipher) throw new BaselineUnavailableError(`openvpn negotiated ${used}, wanted ${cipher}`);
    const v = await run(['openvpn', '--version'], { allowFail: true });
    const impl = `${(v.stdout.split('\n')[0] ?? 'openvpn').split(' ').slice(0, 2).join(' ')} ${cipher}`;
    return { peerIp: SERVER_IP, impl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
