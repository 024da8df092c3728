/**
 * client/killswitch.ts `allowTcp`: the chain RPC endpoint admitted (TCP to exactly that
 * host:port), checked as text and loaded for real in a pair of namespaces (tn9-*): with the
 * kill switch up, TCP reaches the admitted port and not another port of the same host.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { applyKillSwitch, arpRuleset, KillSwitchError, killSwitchRuleset, removeKillSwitch } from '../../../client/killswitch.js';
import { rpcEndpoint, RpcEndpointError } from '../../../client/payments/rpc-endpoint.js';
import { type CommandRunner, runCommand } from '../../../relay/system.js';

const entry = { host: '198.18.0.11', port: 51820 };

test('ruleset: TCP to and from exactly the chain RPC endpoint, nothing else of its host', () => {
  const r = killSwitchRuleset({ tun: 'tvpn0', entry, allowTcp: [{ host: '198.18.0.200', port: 30001 }] });
  assert.match(r, /ip daddr 198\.18\.0\.200 tcp dport 30001 accept/);
  assert.match(r, /ip saddr 198\.18\.0\.200 tcp sport 30001 accept/);
  assert.equal(r.match(/198\.18\.0\.200/g)?.length, 2, 'two rules name the RPC host, each with its port');
  assert.doesNotMatch(r, /ip daddr 198\.18\.0\.200 accept/);
  assert.match(r, /ip daddr 198\.18\.0\.11 udp dport 51820 accept/, 'the entry flow stays');
  assert.equal(r.match(/policy drop;/g)?.length, 3);
  const none = killSwitchRuleset({ tun: 'tvpn0', entry });
  assert.doesNotMatch(none, /tcp/, 'unpaid: no TCP admitted');
  assert.throws(() => killSwitchRuleset({ tun: 't', entry, allowTcp: [{ host: 'chain.example', port: 1 }] }), KillSwitchError);
  assert.throws(() => killSwitchRuleset({ tun: 't', entry, allowTcp: [{ host: '1.2.3.4; flush ruleset', port: 1 }] }), KillSwitchError);
  assert.throws(() => killSwitchRuleset({ tun: 't', entry, allowTcp: [{ host: '1.2.3.4', port: 0 }] }), KillSwitchError);
});

test('rpcEndpoint: IPv4 literal and default ports by scheme; names resolved; bad URLs refused', async () => {
  assert.deepEqual(await rpcEndpoint('http://198.18.0.200:30001'), { host: '198.18.0.200', port: 30001 });
  assert.deepEqual(await rpcEndpoint('https://198.18.0.200/rpc'), { host: '198.18.0.200', port: 443 });
  assert.deepEqual(await rpcEndpoint('ws://10.0.0.1'), { host: '10.0.0.1', port: 80 });
  assert.deepEqual(await rpcEndpoint('http://localhost:8545'), { host: '127.0.0.1', port: 8545 });
  await assert.rejects(rpcEndpoint('not a url'), RpcEndpointError);
  await assert.rejects(rpcEndpoint('http://[::1]:8545'), RpcEndpointError);
});

const A = `tn9-ka-${process.pid}`;
const B = `tn9-kb-${process.pid}`;
const inNs = (ns: string): CommandRunner => (argv, input) => runCommand(['ip', 'netns', 'exec', ns, ...argv], input);
const sh = (argv: string[]): void => void execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
const servers: ChildProcess[] = [];
const cleanup = (): void => {
  for (const p of servers) p.kill('SIGKILL');
  for (const ns of [A, B]) {
    try {
      sh(['ip', 'netns', 'del', ns]);
    } catch {
      /* gone */
    }
  }
};
process.on('exit', cleanup);

/** A TCP server in B answering "ok" on `port`; resolves once it listens. */
function serve(port: number): Promise<void> {
  const code = `require('net').createServer((s)=>{s.end('ok')}).listen(${port},'198.18.220.11',()=>console.log('listening'))`;
  const p = spawn('ip', ['netns', 'exec', B, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    p.on('exit', (c) => reject(new Error(`server on ${port} exited ${c}`)));
  });
}

/** Whether a TCP connection from A to B:port gets B's answer within 2 s. */
function reaches(port: number): boolean {
  const code = `const s=require('net').connect(${port},'198.18.220.11');s.setTimeout(2000,()=>process.exit(3));s.on('data',(d)=>process.exit(String(d)==='ok'?0:4));s.on('error',()=>process.exit(5))`;
  try {
    execFileSync('ip', ['netns', 'exec', A, process.execPath, '-e', code], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  cleanup();
  sh(['ip', 'netns', 'add', A]);
  sh(['ip', 'netns', 'add', B]);
  sh(['ip', '-n', A, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', B]);
  sh(['ip', '-n', A, 'addr', 'add', '198.18.220.10/24', 'dev', 'eth0']);
  sh(['ip', '-n', B, 'addr', 'add', '198.18.220.11/24', 'dev', 'eth0']);
  for (const ns of [A, B]) {
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  await serve(30001);
  await serve(30002);
});
after(cleanup);

test('loaded for real: the admitted RPC port is reached, another port of the same host is not', () => {
  assert.equal(reaches(30001), true, 'before: port 30001 reachable');
  assert.equal(reaches(30002), true, 'before: port 30002 reachable');
  const spec = { tun: 'tvpn0', entry: { host: '198.18.220.12', port: 51820 }, arpPeers: ['198.18.220.11'], allowTcp: [{ host: '198.18.220.11', port: 30001 }] };
  applyKillSwitch(spec, inNs(A));
  try {
    assert.equal(reaches(30001), true, 'the chain RPC endpoint is admitted');
    assert.equal(reaches(30002), false, 'another port of the same host is dropped');
    // Without allowTcp (and ARP still admitted) the RPC port is dropped too: the rule is what admits it.
    applyKillSwitch({ ...spec, allowTcp: [] }, inNs(A));
    assert.equal(reaches(30001), false, 'no allowTcp: dropped');
    assert.match(arpRuleset(spec), /198\.18\.220\.11/);
  } finally {
    removeKillSwitch(undefined, inNs(A));
  }
  assert.equal(reaches(30002), true, 'removed: everything reachable again');
});
