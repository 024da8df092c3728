/**
 * Kubernetes manifests: chain nodes as one StatefulSet (`topchain`, ordinal i = the i-th
 * validator of the deploy config; stable DNS `topchain-i.topchain.<ns>.svc`, a PVC each),
 * each relay as a single-replica Deployment pinned to the node labelled
 * `topvpn.io/relay=<name>` with hostNetwork (clients reach the node's address), a metrics
 * Service per relay, and Prometheus with the generated scrape config.
 * Made by the operator, not here: ConfigMap `topchain-genesis` (genesis.json), Secret
 * `topchain-keys` (<validator name>.json each) and Secret `<relay>-key` (key.json).
 */
import { stringify } from 'yaml';
import { CONTAINER_DATA } from './gen-docker.js';
import type { DeployConfig, RelaySpec, ValidatorSpec } from './gen-config.js';
import { DeployConfigError, relayArgs } from './gen-config.js';
import { NODE_HEAP_FLAGS } from '../chain/node/heap-flags.js';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

const PART_OF = 'topvpn';

function meta(cfg: DeployConfig, name: string, component: string): K8sObject['metadata'] {
  return { name, namespace: cfg.k8s.namespace, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': PART_OF } };
}

/** Pod DNS name of the i-th chain node. */
export function chainPodHost(cfg: DeployConfig, i: number): string {
  return `topchain-${i}.topchain.${cfg.k8s.namespace}.svc.cluster.local`;
}

function commonPorts(cfg: DeployConfig): { p2p: number; rpc: number } {
  const v0 = cfg.validators[0] as ValidatorSpec;
  for (const v of cfg.validators) if (v.p2pPort !== v0.p2pPort || v.rpcPort !== v0.rpcPort) throw new DeployConfigError('k8s: every chain node must use the same p2pPort and rpcPort (one StatefulSet template)');
  return { p2p: v0.p2pPort, rpc: v0.rpcPort };
}

function chainObjects(cfg: DeployConfig): K8sObject[] {
  const { p2p, rpc } = commonPorts(cfg);
  const labels = { 'app.kubernetes.io/name': 'topchain' };
  const nodeConfig = { dataDir: CONTAINER_DATA, keyFile: `${CONTAINER_DATA}/key.json`, genesisFile: '/etc/topvpn/genesis/genesis.json', p2pListen: `/ip4/0.0.0.0/tcp/${p2p}`, rpcHost: '0.0.0.0', rpcPort: rpc, logLevel: cfg.logLevel };
  const cases = cfg.validators.map((v, i) => `  topchain-${i}) N=${v.name} ;;`).join('\n');
  const init = `set -eu\ncase "$POD_NAME" in\n${cases}\n  *) echo "no validator for $POD_NAME" >&2; exit 1 ;;\nesac\nif [ ! -f ${CONTAINER_DATA}/key.json ]; then cp "/keys/$N.json" ${CONTAINER_DATA}/key.json; chmod 600 ${CONTAINER_DATA}/key.json; fi\n`;
  const podSecurity = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } };
  const containerSecurity = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(cfg, 'topchain-config', 'chain'), data: { 'config.json': JSON.stringify(nodeConfig, null, 2) + '\n' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(cfg, 'topchain', 'chain'),
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: labels,
        ports: [
          { name: 'p2p', port: p2p, targetPort: 'p2p', protocol: 'TCP' },
          { name: 'rpc', port: rpc, targetPort: 'rpc', protocol: 'TCP' },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(cfg, 'topchain', 'chain'),
      spec: {
        serviceName: 'topchain',
        replicas: cfg.validators.length,
        // BFT committees need their members up together; ordinals carry no start order.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            securityContext: podSecurity,
            terminationGracePeriodSeconds: 30,
            initContainers: [
              {
                name: 'key',
                image: cfg.image,
                command: ['sh', '-c', init],
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                securityContext: containerSecurity,
                volumeMounts: [
                  { name: 'data', mountPath: CONTAINER_DATA },
                  { name: 'keys', mountPath: '/keys', readOnly: true },
                ],
              },
            ],
            containers: [
              {
                name: 'topchain',
                image: cfg.image,
                command: ['node', ...NODE_HEAP_FLAGS, 'dist/chain/cli.js', 'start', '--config', '/etc/topvpn/config/config.json'],
                env: [{ name: 'TOPVPN_LOG_LEVEL', value: cfg.logLevel }],
                ports: [
                  { name: 'p2p', containerPort: p2p, protocol: 'TCP' },
                  { name: 'rpc', containerPort: rpc, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/metrics', port: 'rpc' }, periodSeconds: 10 },
                livenessProbe: { httpGet: { path: '/metrics', port: 'rpc' }, periodSeconds: 30, failureThreshold: 5 },
                resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                securityContext: containerSecurity,
                volumeMounts: [
                  { name: 'data', mountPath: CONTAINER_DATA },
                  { name: 'config', mountPath: '/etc/topvpn/config', readOnly: true },
                  { name: 'genesis', mountPath: '/etc/topvpn/genesis', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'topchain-config' } },
              { name: 'genesis', configMap: { name: 'topchain-genesis' } },
              { name: 'keys', secret: { secretName: 'topchain-keys', defaultMode: 0o400 } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], ...(cfg.k8s.storageClass ? { storageClassName: cfg.k8s.storageClass } : {}), resources: { requests: { storage: cfg.k8s.storageSize } } },
          },
        ],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(cfg, 'topchain', 'chain'),
      // A committee of n tolerates f = floor((n-1)/3) faults; never drain more than one node at a time.
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    },
  ];
}

function relayObjects(cfg: DeployConfig, r: RelaySpec): K8sObject[] {
  const exit = r.exit !== undefined;
  const labels = { 'app.kubernetes.io/name': r.name, 'app.kubernetes.io/component': exit ? 'exit-relay' : 'relay' };
  const containerSecurity = exit
    ? // Added capabilities only take effect for uid 0 (Kubernetes sets no ambient capabilities): root with NET_ADMIN alone.
      { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } }
    : { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(cfg, r.name, labels['app.kubernetes.io/component']),
      spec: {
        replicas: 1,
        // One identity (key) per relay: never two pods at once.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { 'app.kubernetes.io/name': r.name } },
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            hostNetwork: true,
            dnsPolicy: 'ClusterFirstWithHostNet',
            nodeSelector: { 'topvpn.io/relay': r.name },
            securityContext: { fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'toprelay',
                image: cfg.image,
                command: ['node', 'dist/relay/cli.js', ...relayArgs(r, '/etc/topvpn/key/key.json', '0.0.0.0', cfg.logLevel)],
                env: [{ name: 'TOPVPN_LOG_LEVEL', value: cfg.logLevel }],
                ports: [
                  { name: 'relay', containerPort: r.port, hostPort: r.port, protocol: 'UDP' },
                  { name: 'metrics', containerPort: r.metricsPort, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 10 },
                resources: { requests: { cpu: '500m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                securityContext: containerSecurity,
                volumeMounts: [
                  { name: 'key', mountPath: '/etc/topvpn/key', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                  ...(exit ? [{ name: 'tun', mountPath: '/dev/net/tun' }] : []),
                ],
              },
            ],
            volumes: [
              // 0440: readable by fsGroup 1000 (the relay warns about group bits; the Secret is not on any disk but the kubelet's tmpfs).
              { name: 'key', secret: { secretName: `${r.name}-key`, defaultMode: 0o440 } },
              { name: 'tmp', emptyDir: {} },
              // The TUN device of the host; runc's default device rules allow it (c 10:200). A device plugin can replace this hostPath.
              ...(exit ? [{ name: 'tun', hostPath: { path: '/dev/net/tun', type: 'CharDevice' } }] : []),
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(cfg, r.name, labels['app.kubernetes.io/component']),
      spec: {
        selector: { 'app.kubernetes.io/name': r.name },
        ports: [{ name: 'metrics', port: r.metricsPort, targetPort: 'metrics', protocol: 'TCP' }],
      },
    },
  ];
}

function prometheusObjects(cfg: DeployConfig, prometheusYml: string): K8sObject[] {
  const labels = { 'app.kubernetes.io/name': 'prometheus' };
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(cfg, 'prometheus-config', 'monitoring'), data: { 'prometheus.yml': prometheusYml } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(cfg, 'prometheus', 'monitoring'),
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/part-of': PART_OF } },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534 },
            containers: [
              {
                name: 'prometheus',
                image: cfg.prometheus.image,
                args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus'],
                ports: [{ name: 'http', containerPort: 9090, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/-/ready', port: 'http' } },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
                  { name: 'data', mountPath: '/prometheus' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'prometheus-config' } },
              { name: 'data', emptyDir: {} },
            ],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: meta(cfg, 'prometheus', 'monitoring'), spec: { selector: labels, ports: [{ name: 'http', port: cfg.prometheus.port, targetPort: 'http', protocol: 'TCP' }] } },
  ];
}

/** All objects, in apply order. */
export function k8sObjects(cfg: DeployConfig, prometheusYml: string): Array<{ file: string; objects: K8sObject[] }> {
  return [
    { file: 'namespace.yaml', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: cfg.k8s.namespace, labels: { 'app.kubernetes.io/part-of': PART_OF } } }] },
    { file: 'topchain.yaml', objects: chainObjects(cfg) },
    { file: 'relays.yaml', objects: cfg.relays.flatMap((r) => relayObjects(cfg, r)) },
    { file: 'prometheus.yaml', objects: prometheusObjects(cfg, prometheusYml) },
  ];
}

export function renderK8s(cfg: DeployConfig, prometheusYml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const { file, objects } of k8sObjects(cfg, prometheusYml)) {
    out.set(file, '# Generated by deploy/generate.ts: do not edit, regenerate.\n' + objects.map((o) => '---\n' + stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join(''));
  }
  return out;
}
