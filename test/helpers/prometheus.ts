/**
 * A real Prometheus inside a testnet namespace, and the Grafana dashboards' panel queries
 * made evaluable by it: every target `expr` of every panel (rows' nested panels included),
 * with Grafana's variables replaced as a dashboard showing "All" would.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Proc } from '../../deploy/procs.js';
import type { Host, Testnet } from '../../deploy/testnet.js';
import { waitUntil } from './wait.js';

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
}

export interface PanelQuery {
  /** Dashboard file name. */
  file: string;
  panelId: number;
  panel: string;
  refId: string;
  /** The query as written in the dashboard. */
  expr: string;
}

interface PanelJson {
  id?: number;
  title?: string;
  type?: string;
  targets?: Array<{ expr?: unknown; refId?: unknown }>;
  panels?: PanelJson[];
}

/** Every panel target with a non-empty expr, in dashboard order, for each *.json in `dir`. */
export function dashboardQueries(dir: string): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels?: PanelJson[] };
    const walk = (panels: readonly PanelJson[]): void => {
      for (const p of panels) {
        for (const t of p.targets ?? []) {
          if (typeof t.expr === 'string' && t.expr.trim() !== '') {
            out.push({ file, panelId: p.id ?? -1, panel: p.title ?? '(untitled)', refId: typeof t.refId === 'string' ? t.refId : '?', expr: t.expr });
          }
        }
        walk(p.panels ?? []);
      }
    };
    walk(dash.panels ?? []);
  }
  return out;
}

/**
 * Replaces Grafana's variables: `$__rate_interval`, `$__interval` (and their `${…}` forms) by
 * `rateInterval`, `$__range` by `range`; every other `$name`, `${name}`, `${name:fmt}` or
 * `[[name]]` by `.*` (the "All" of a regex-matched template variable).
 */
export function substituteGrafanaVariables(expr: string, opts: { rateInterval: string; range?: string }): string {
  const builtin: Record<string, string> = { __rate_interval: opts.rateInterval, __interval: opts.rateInterval, __range: opts.range ?? opts.rateInterval };
  const value = (name: string): string => builtin[name] ?? '.*';
  return expr
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}/g, (_m, n: string) => value(n))
    .replace(/\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]/g, (_m, n: string) => value(n))
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, n: string) => value(n));
}

export interface PromSample {
  metric: Record<string, string>;
  /** The value as Prometheus prints it ("NaN", "+Inf" included). */
  value: string;
}

export interface QueryResult {
  ok: boolean;
  /** errorType: error, when !ok. */
  error?: string;
  resultType?: string;
  samples: PromSample[];
}

export interface PrometheusOptions {
  /** prometheus.yml text. */
  config: string;
  /** Directory for the config file and the TSDB. */
  dir: string;
  /** host:port Prometheus listens on, inside `host`'s namespace (default 127.0.0.1:9090). */
  listen?: string;
}

/** A Prometheus server running in a testnet host, queried with curl from inside that host. */
export class Prometheus {
  private constructor(
    private readonly net: Testnet,
    readonly host: Host,
    readonly proc: Proc,
    readonly url: string,
  ) {}

  /** Checks the config with promtool, starts Prometheus and waits until it is ready. */
  static async start(net: Testnet, host: Host, opts: PrometheusOptions): Promise<Prometheus> {
    const listen = opts.listen ?? '127.0.0.1:9090';
    const configFile = join(opts.dir, 'prometheus.yml');
    writeFileSync(configFile, opts.config);
    const check = await net.exec(host, ['promtool', 'check', 'config', configFile], { allowFail: true });
    if (check.code !== 0) throw new PrometheusError(`promtool check config: ${check.stdout} ${check.stderr}`);
    const proc = net.spawn(
      host,
      ['prometheus', `--config.file=${configFile}`, `--storage.tsdb.path=${join(opts.dir, 'tsdb')}`, `--web.listen-address=${listen}`, '--log.level=warn'],
      { label: `${host.name}:prometheus` },
    );
    const p = new Prometheus(net, host, proc, `http://${listen}`);
    await waitUntil('prometheus to be ready', async () => {
      if (!proc.running) throw new PrometheusError(`prometheus exited: ${proc.lines('stderr').slice(-5).join('\n')}`);
      const r = await net.exec(host, ['curl', '-sS', '--max-time', '2', '-o', '/dev/null', '-w', '%{http_code}', `${p.url}/-/ready`], { allowFail: true });
      return r.stdout.trim() === '200';
    }, { timeoutMs: 30_000, intervalMs: 300 });
    return p;
  }

  /** GET/POST against the HTTP API from inside the host; returns the parsed JSON body. */
  private async api(path: string, form: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const args = Object.entries(form).flatMap(([k, v]) => ['--data-urlencode', `${k}=${v}`]);
    const r = await this.net.exec(this.host, ['curl', '-sS', '--max-time', '15', ...args, `${this.url}${path}`], { allowFail: true, timeoutMs: 20_000 });
    if (r.code !== 0) throw new PrometheusError(`curl ${path}: code ${r.code}: ${r.stderr.slice(0, 300)}`);
    try {
      return JSON.parse(r.stdout) as Record<string, unknown>;
    } catch {
      throw new PrometheusError(`${path}: not JSON: ${r.stdout.slice(0, 300)}`);
    }
  }

  /** Instant query at the current time (`/api/v1/query`). */
  async query(expr: string): Promise<QueryResult> {
    const body = await this.api('/api/v1/query', { query: expr });
    if (body['status'] !== 'success') return { ok: false, error: `${String(body['errorType'])}: ${String(body['error'])}`, samples: [] };
    const data = body['data'] as { resultType: string; result: unknown };
    if (data.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return { ok: true, resultType: 'scalar', samples: [{ metric: {}, value: v }] };
    }
    const rows = data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    return { ok: true, resultType: data.resultType, samples: rows.map((r) => ({ metric: r.metric, value: r.value[1] })) };
  }

  /** Active targets: job, scrape URL, health ("up"/"down"/"unknown") and last error. */
  async targets(): Promise<Array<{ job: string; scrapeUrl: string; health: string; lastError: string }>> {
    const body = await this.api('/api/v1/targets?state=active');
    const data = body['data'] as { activeTargets: Array<{ labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }> };
    return data.activeTargets.map((t) => ({ job: t.labels['job'] ?? '', scrapeUrl: t.scrapeUrl, health: t.health, lastError: t.lastError }));
  }
}
