/**
 * Every generated file passes its validator (systemd-analyze verify, systemd-sysusers,
 * promtool, the compose-spec schema, the Kubernetes schemas of kubernetes-models, the
 * Dockerfile lint), and each validator rejects a broken copy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { deployDir } from '../../../deploy/generate.js';
import { checkPrometheusConfig, lintDockerfile, systemdExposure, validateCompose, validateK8sManifest, verifySystemdUnits, verifySysusers } from '../../../deploy/gen-validate.js';

const root = deployDir();
const scratch = mkdtempSync(join(tmpdir(), 'tvk-validate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');
const units = readdirSync(join(root, 'systemd')).filter((n) => n.endsWith('.service'));
const k8sFiles = readdirSync(join(root, 'k8s')).filter((n) => n.endsWith('.yaml'));

test('systemd-analyze verify accepts every generated unit', () => {
  assert.ok(units.length >= 11, `units: ${units.join(' ')}`);
  assert.deepEqual(verifySystemdUnits(units.map((u) => join(root, 'systemd', u))), []);
});

test('systemd units: exits alone get CAP_NET_ADMIN and /dev/net/tun; all are hardened', () => {
  for (const u of units) {
    const t = read(`systemd/${u}`);
    for (const d of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'Restart=on-failure', 'RestartSec=5s', 'User=topvpn']) assert.ok(t.includes(`\n${d}\n`), `${u} lacks ${d}`);
    assert.match(t, /\nReadWritePaths=\/var\/lib\/topvpn\/[a-z0-9-]+\n/, u);
    const exit = / --exit /.test(t);
    assert.equal(t.includes('\nAmbientCapabilities=CAP_NET_ADMIN\n'), exit, u);
    assert.equal(t.includes('\nCapabilityBoundingSet=CAP_NET_ADMIN\n'), exit, u);
    assert.equal(t.includes('\nDeviceAllow=/dev/net/tun rw\n'), exit, u);
    if (!exit) assert.ok(t.includes('\nCapabilityBoundingSet=\n') && t.includes('\nPrivateDevices=yes\n'), u);
  }
  assert.ok(units.some((u) => / --exit /.test(read(`systemd/${u}`))), 'at least one exit unit');
});

test('systemd-analyze security rates every unit OK (exposure < 3.0 of 10); stripping the hardening is noticed', () => {
  for (const u of units) {
    const score = systemdExposure(join(root, 'systemd', u));
    assert.ok(score < 3, `${u}: exposure ${score}`);
  }
  const plain = join(scratch, 'toprelay-plain.service');
  const kept = /^(\[|#|Description|Wants|After|Type|User|Group|ExecStart|Restart|WantedBy)/;
  writeFileSync(plain, read('systemd/toprelay-relay-entry.service').split('\n').filter((l) => l === '' || kept.test(l)).join('\n'));
  assert.ok(systemdExposure(plain) > systemdExposure(join(root, 'systemd/toprelay-relay-entry.service')) + 3);
});

test('systemd-analyze verify rejects a typo\'d directive', () => {
  const bad = join(scratch, 'toprelay-typo.service');
  writeFileSync(bad, read('systemd/toprelay-relay-entry.service').replace('ProtectSystem=strict', 'ProtectSytem=strict'));
  const problems = verifySystemdUnits([bad]);
  assert.ok(problems.some((p) => p.includes("Unknown key 'ProtectSytem'")), problems.join('\n'));
});

test('systemd-analyze verify rejects a unit whose binary does not exist', () => {
  const bad = join(scratch, 'topchain-nobin.service');
  writeFileSync(bad, read('systemd/topchain-aud-0.service').replace('ExecStart=/usr/bin/node ', 'ExecStart=/nonexistent/tvk/node '));
  const problems = verifySystemdUnits([bad]);
  assert.ok(problems.some((p) => p.includes('/nonexistent/tvk/node')), problems.join('\n'));
});

test('systemd-sysusers accepts the sysusers.d file and rejects a broken one', () => {
  assert.deepEqual(verifySysusers(join(root, 'systemd/topvpn.sysusers.conf')), []);
  const bad = join(scratch, 'bad.sysusers.conf');
  writeFileSync(bad, 'q topvpn - "x" /var/lib/topvpn\n');
  assert.notDeepEqual(verifySysusers(bad), []);
});

test('promtool accepts every generated Prometheus config (servers, testnet, compose, k8s)', () => {
  for (const rel of ['prometheus/prometheus.yml', 'prometheus/testnet.yml', 'docker/prometheus.yml']) assert.deepEqual(checkPrometheusConfig(join(root, rel)), [], rel);
  const cm = parseAllDocuments(read('k8s/prometheus.yaml'))
    .map((d) => d.toJS() as { kind: string; data?: Record<string, string> })
    .find((o) => o.kind === 'ConfigMap');
  assert.ok(cm?.data?.['prometheus.yml']);
  const f = join(scratch, 'k8s-prometheus.yml');
  writeFileSync(f, cm.data['prometheus.yml']);
  assert.deepEqual(checkPrometheusConfig(f), []);
});

test('promtool rejects a broken config', () => {
  const f = join(scratch, 'bad-prometheus.yml');
  writeFileSync(f, read('prometheus/prometheus.yml').replace('scrape_interval: 15s', 'scrape_interval: fifteen'));
  assert.notDeepEqual(checkPrometheusConfig(f), []);
});

test('compose file passes the compose-spec schema; relays/exits have what they need', () => {
  const text = read('docker/compose.yaml');
  assert.deepEqual(validateCompose(text), []);
  const doc = parse(text) as { services: Record<string, { cap_add?: string[]; devices?: string[]; command?: string[]; volumes?: string[] }> };
  const exits = Object.entries(doc.services).filter(([, s]) => s.command?.includes('--exit'));
  assert.ok(exits.length >= 1);
  for (const [name, s] of exits) {
    assert.deepEqual(s.cap_add, ['NET_ADMIN'], name);
    assert.deepEqual(s.devices, ['/dev/net/tun:/dev/net/tun'], name);
  }
  assert.ok(doc.services['prometheus'] && doc.services['grafana']);
  assert.ok(doc.services['grafana']!.volumes!.some((v) => v.startsWith('../../grafana/dashboards:')));
});

test('compose schema rejects a misspelt service key and a wrongly typed field', () => {
  const doc = parse(read('docker/compose.yaml')) as { services: Record<string, Record<string, unknown>> };
  const first = Object.keys(doc.services)[0]!;
  const typo = structuredClone(doc);
  typo.services[first]!['imagee'] = typo.services[first]!['image'];
  assert.ok(validateCompose(stringify(typo)).some((p) => p.includes('imagee')));
  const wrong = structuredClone(doc);
  wrong.services[first]!['cap_drop'] = 42;
  assert.notDeepEqual(validateCompose(stringify(wrong)), []);
});

test('Kubernetes manifests pass the Kubernetes schemas', () => {
  assert.deepEqual(k8sFiles.sort(), ['namespace.yaml', 'prometheus.yaml', 'relays.yaml', 'topchain.yaml']);
  for (const f of k8sFiles) assert.deepEqual(validateK8sManifest(read(`k8s/${f}`)), [], f);
  const kinds = k8sFiles.flatMap((f) => parseAllDocuments(read(`k8s/${f}`)).map((d) => (d.toJS() as { kind: string }).kind));
  for (const k of ['Namespace', 'StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget']) assert.ok(kinds.includes(k), k);
});

test('a manifest missing a required field fails schema validation', () => {
  const docs = parseAllDocuments(read('k8s/topchain.yaml')).map((d) => d.toJS() as Record<string, unknown>);
  const sts = docs.find((o) => o['kind'] === 'StatefulSet') as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } }; selector?: unknown } };
  const noName = structuredClone(sts);
  delete noName.spec.template.spec.containers[0]!['name'];
  assert.ok(validateK8sManifest(stringify(noName)).some((p) => p.includes('name')));
  const noSelector = structuredClone(sts);
  delete noSelector.spec.selector;
  assert.ok(validateK8sManifest(stringify(noSelector)).some((p) => p.includes('selector')));
  assert.ok(validateK8sManifest('apiVersion: v9\nkind: Pod\nmetadata: {name: x}\n').some((p) => p.includes('no schema')));
});

test('Dockerfile passes the lint; a root final stage, a wrong base or a bad instruction fail it', () => {
  const df = read('docker/Dockerfile');
  assert.deepEqual(lintDockerfile(df), []);
  assert.ok(lintDockerfile(df.replace('USER node', 'USER root')).some((p) => p.includes('root')));
  assert.ok(lintDockerfile(df.replace('USER node\n', '')).some((p) => p.includes('no USER')));
  assert.ok(lintDockerfile(df.replace(/FROM node:20-bookworm-slim$/m, 'FROM node:latest')).some((p) => p.includes('node:20-bookworm-slim')));
  assert.ok(lintDockerfile(df.replace('WORKDIR', 'WORKDIRR')).some((p) => /unknown instruction/i.test(p)));
});
