/** `toprelay start` payment flags: --chain-rpc, --node-key, --price-per-gib together or none; --claim-fee. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseRelayStartFlags } from '../../../relay/config.js';

const base = { listen: '198.18.0.11:51820', key: '/k.json' };

test('paid relaying: the three flags together, amounts in base units', () => {
  const c = parseRelayStartFlags({ ...base, chainRpc: 'http://198.18.0.200:30003', nodeKey: '/n.json', pricePerGib: '1000000000', claimFee: '20000' });
  assert.deepEqual(c.payments, { rpcUrl: 'http://198.18.0.200:30003', nodeKeyFile: '/n.json', pricePerGiB: 1_000_000_000n, claimFee: 20_000n });
  const d = parseRelayStartFlags({ ...base, chainRpc: 'http://h:1', nodeKey: '/n.json', pricePerGib: '0' });
  assert.equal(d.payments?.pricePerGiB, 0n);
  assert.equal(d.payments?.claimFee, undefined);
  assert.equal(parseRelayStartFlags(base).payments, undefined);
});

test('paid relaying: partial or bad flags are ConfigErrors naming the flag', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ chainRpc: 'http://h:1' }, /together/],
    [{ nodeKey: '/n', pricePerGib: '1' }, /together/],
    [{ claimFee: '1' }, /--claim-fee only makes sense/],
    [{ chainRpc: 'h:1', nodeKey: '/n', pricePerGib: '1' }, /--chain-rpc/],
    [{ chainRpc: 'ws://h:1', nodeKey: '/n', pricePerGib: '1' }, /must be http/],
    [{ chainRpc: 'http://h:1', nodeKey: '/n', pricePerGib: '1.5' }, /--price-per-gib/],
    [{ chainRpc: 'http://h:1', nodeKey: '/n', pricePerGib: '-3' }, /--price-per-gib/],
    [{ chainRpc: 'http://h:1', nodeKey: '/n', pricePerGib: '1', claimFee: 'x' }, /--claim-fee/],
  ];
  for (const [f, re] of bad) assert.throws(() => parseRelayStartFlags({ ...base, ...f }), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(f));
});
