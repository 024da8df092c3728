import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { createChainMetrics, METRIC_NAMES as CHAIN_NAMES } from '../../../chain/node/metrics.js';
import { MetricsPortInUseError, MetricsServerError, startMetricsServer } from '../../../common/metrics-server.js';
import { createRelayMetrics, METRIC_NAMES as RELAY_NAMES } from '../../../relay/metrics.js';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('scrape returns the text exposition format with every relay metric', async () => {
  const m = createRelayMetrics();
  m.forwardedBytes.inc({ direction: 'forward' }, 1234);
  const srv = await startMetricsServer({ port: 0, registry: m.registry });
  try {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.ok(srv.port > 0);
    const r = await get(srv.url);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    for (const n of RELAY_NAMES) assert.match(r.body, new RegExp(`^# HELP ${n} `, 'm'), n);
    assert.match(r.body, /^# TYPE topvpn_relay_forwarded_bytes_total counter$/m);
    assert.match(r.body, /^# TYPE topvpn_relay_handshake_seconds histogram$/m);
    assert.match(r.body, /^topvpn_relay_forwarded_bytes_total\{direction="forward"\} 1234$/m);
    assert.match(r.body, /^topvpn_relay_handshake_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} 0$/m);
    // a second scrape sees new values (no caching)
    m.forwardedBytes.inc({ direction: 'forward' }, 1);
    assert.match((await get(srv.url)).body, /^topvpn_relay_forwarded_bytes_total\{direction="forward"\} 1235$/m);
  } finally {
    await srv.close();
  }
});

test('HEAD, other paths and methods', async () => {
  const srv = await startMetricsServer({ port: 0, registry: createChainMetrics().registry });
  try {
    const head = await get(srv.url, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await get(srv.url.replace('/metrics', '/'))).status, 404);
    assert.equal((await get(srv.url.replace('/metrics', '/metricsx'))).status, 404);
    assert.equal((await get(srv.url, 'POST')).status, 405);
    const r = await get(`${srv.url}?x=1`);
    assert.equal(r.status, 200);
    for (const n of CHAIN_NAMES) assert.match(r.body, new RegExp(`^# TYPE ${n} `, 'm'), n);
  } finally {
    await srv.close();
  }
});

test('a port in use is a clear MetricsPortInUseError; the first server keeps serving', async () => {
  const first = await startMetricsServer({ port: 0, registry: new Registry() });
  try {
    await assert.rejects(startMetricsServer({ port: first.port, registry: new Registry() }), (e: unknown) => {
      assert.ok(e instanceof MetricsPortInUseError);
      assert.ok(e instanceof MetricsServerError);
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${first.port} is already in use`));
      return true;
    });
    assert.equal((await get(first.url)).status, 200);
  } finally {
    await first.close();
  }
});

test('bad port is refused before binding; close is idempotent and stops serving', async () => {
  await assert.rejects(startMetricsServer({ port: 70000, registry: new Registry() }), MetricsServerError);
  await assert.rejects(startMetricsServer({ port: 1.5, registry: new Registry() }), MetricsServerError);
  const srv = await startMetricsServer({ port: 0, registry: new Registry() });
  await srv.close();
  await srv.close();
  await assert.rejects(get(srv.url));
});

test('an unknown local address is reported, not thrown raw', async () => {
  // 203.0.113.0/24 is TEST-NET-3 (RFC 5737): never configured on this host's interfaces.
  await assert.rejects(startMetricsServer({ host: '203.0.113.254', port: 0, registry: new Registry() }), (e: unknown) => {
    assert.ok(e instanceof MetricsServerError);
    assert.match((e as Error).message, /203\.0\.113\.254/);
    return true;
  });
});
