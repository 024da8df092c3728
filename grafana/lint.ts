/**
 * Lints the Grafana dashboards in grafana/dashboards against the metric names the code defines.
 *
 * Rules (each problem names its rule):
 * - json: the file parses as a JSON object.
 * - schema: schemaVersion ≥ 38, a title, a uid unique in the folder, unique panel ids, and a
 *   templating variable `datasource` of type datasource for prometheus.
 * - datasource: every `datasource` in the dashboard (panels, targets, variables) is the
 *   `${datasource}` variable (string or {type: 'prometheus', uid}); a panel without one is a
 *   problem (it would silently use the default data source). The one exception is Grafana's
 *   built-in annotation ({type: 'grafana', uid: '-- Grafana --'} on a builtIn annotation).
 * - unit: every panel but rows and text panels sets fieldConfig.defaults.unit.
 * - query: every such panel has at least one target with a non-empty `expr`.
 * - forbidden-function: increase, delta, idelta and irate. Counters are read with
 *   rate(...[$__rate_interval]) only: increase/delta extrapolate per step and mislead when
 *   summed; irate looks at the last two samples of each step only and hides what lies between.
 * - unknown-function: a call of something that is neither a PromQL function nor aggregator.
 * - unknown-metric: a metric name in a query (or a variable's label_values/query_result) that
 *   no metrics file defines. Histogram (and summary) series `_bucket`, `_sum`, `_count` count
 *   as their metric.
 * - rate: a counter-like series (counter, or a histogram's _bucket/_sum/_count) used outside
 *   rate(), or a gauge inside rate().
 * - rate-interval: a rate() range other than [$__rate_interval] (it must follow the scrape
 *   interval Grafana knows, not a hard-coded guess).
 * - hardcoded-instance: a matcher on instance/job/pod/host/node whose value holds no variable.
 *
 * Names are found by tokenizing the PromQL: strings, label matchers and ranges are removed;
 * identifiers followed by '(' are functions, the label lists after by/without/on/ignoring/
 * group_left/group_right are labels, keywords and Grafana $variables are skipped; every other
 * identifier is a metric name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Registry } from 'prom-client';

export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
/** Plain names (kinds then inferred: `_total` = counter, else gauge) or names with their kinds. */
export type KnownMetrics = Iterable<string> | ReadonlyMap<string, MetricKind>;

export type LintRule =
  | 'json'
  | 'schema'
  | 'datasource'
  | 'unit'
  | 'query'
  | 'forbidden-function'
  | 'unknown-function'
  | 'unknown-metric'
  | 'rate'
  | 'rate-interval'
  | 'hardcoded-instance';

export interface LintProblem {
  /** File name inside the linted folder. */
  file: string;
  /** Where in the dashboard, e.g. `panel 7 "Drops by reason" target A`. */
  where: string;
  rule: LintRule;
  message: string;
}

export const MIN_SCHEMA_VERSION = 38;
export const FORBIDDEN_FUNCTIONS: readonly string[] = ['increase', 'delta', 'idelta', 'irate'];
export const DATASOURCE_VARIABLE = 'datasource';
const DS_REFS = new Set(['${datasource}', '$datasource', '[[datasource]]']);
const HARDCODE_LABELS = new Set(['instance', 'job', 'pod', 'host', 'hostname', 'node']);

const PROMQL_FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'double_exponential_smoothing', 'exp', 'floor',
  'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar', 'histogram_sum', 'holt_winters', 'hour',
  'idelta', 'increase', 'info', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time', 'min_over_time', 'minute',
  'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_by_label',
  'sort_by_label_desc', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
  // aggregation operators
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
  // @ modifiers
  'start', 'end',
]);
const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', ...LABEL_LIST_KEYWORDS]);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export interface PromqlScan {
  /** Metric names, each with the innermost enclosing function ('' at top level or in plain parentheses only). */
  metrics: { name: string; fn: string }[];
  functions: string[];
  /** Ranges given to rate(): the text inside the brackets. */
  rateRanges: string[];
  /** Label matchers whose value is a literal (no $variable) on an instance-like label. */
  hardcoded: { label: string; value: string }[];
}

/** Tokenizes one PromQL expression (see the file comment for what counts as a metric name). */
export function scanPromql(expr: string): PromqlScan {
  const out: PromqlScan = { metrics: [], functions: [], rateRanges: [], hardcoded: [] };
  // 1. Strings out (keeping their place), label matchers checked then blanked, ranges kept aside.
  let s = '';
  const strings: string[] = [];
  for (let i = 0; i < expr.length; ) {
    const ch = expr[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      let j = i + 1;
      let val = '';
      while (j < expr.length && expr[j] !== ch) {
        if (expr[j] === '\\' && ch !== '`' && j + 1 < expr.length) {
          val += expr[j + 1];
          j += 2;
        } else val += expr[j++];
      }
      strings.push(val);
      s += ` \u0001${strings.length - 1}\u0001 `;
      i = j + 1;
    } else {
      s += ch;
      i++;
    }
  }
  const ranges: string[] = [];
  s = s.replace(/\{([^{}]*)\}/g, (_m, body: string) => {
    for (const mm of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\u0001(\d+)\u0001/g)) {
      const value = strings[Number(mm[3])] ?? '';
      if (HARDCODE_LABELS.has(mm[1]!) && !value.includes('$') && value !== '.*' && value !== '.+') out.hardcoded.push({ label: mm[1]!, value });
    }
    return ' ';
  });
  s = s.replace(/\[([^\]]*)\]/g, (_m, body: string) => {
    ranges.push(body.trim());
    return ` \u0002${ranges.length - 1}\u0002 `;
  });
  s = s.replace(/\u0001\d+\u0001/g, ' ');

  // 2. Tokens.
  type Frame = { fn: string; labels: boolean };
  const stack: Frame[] = [];
  let pendingFn: string | undefined; // aggregator waiting for its '(' after a by/without list
  let labelListNext = false;
  const innermostFn = (): string => {
    for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.fn) return stack[k]!.fn;
    return '';
  };
  const nextNonSpace = (from: number): string => {
    let j = from;
    while (j < s.length && /\s/.test(s[j]!)) j++;
    return s[j] ?? '';
  };
  for (let i = 0; i < s.length; ) {
    const ch = s[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '\u0002') {
      const end = s.indexOf('\u0002', i + 1);
      const idx = Number(s.slice(i + 1, end));
      if (innermostFn() === 'rate') out.rateRanges.push(ranges[idx] ?? '');
      i = end + 1;
      continue;
    }
    if (ch === '$') {
      const m = /^\$(\{[^}]*\}|[A-Za-z0-9_]+)/.exec(s.slice(i));
      i += m ? m[0].length : 1;
      continue;
    }
    if (/[0-9.]/.test(ch)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)((?:ms|[smhdwy])+)?/.exec(s.slice(i));
      i += m && m[0].length > 0 ? m[0].length : 1;
      continue;
    }
    if (/[A-Za-z_:]/.test(ch)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(s.slice(i))!;
      const id = m[0];
      i += id.length;
      const top = stack[stack.length - 1];
      if (top?.labels) continue; // a label inside by (...), on (...), ...
      const lower = id.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(lower)) {
        labelListNext = nextNonSpace(i) === '(';
        continue;
      }
      if (KEYWORDS.has(lower)) continue;
      if (nextNonSpace(i) === '(') {
        out.functions.push(id);
        pendingFn = id;
        continue;
      }
      if (AGGREGATORS.has(id)) {
        pendingFn = id; // `sum by (x) (...)`
        continue;
      }
      out.metrics.push({ name: id, fn: innermostFn() });
      continue;
    }
    if (ch === '(') {
      if (labelListNext) {
        stack.push({ fn: '', labels: true });
        labelListNext = false;
      } else {
        stack.push({ fn: pendingFn ?? '', labels: false });
        pendingFn = undefined;
      }
      i++;
      continue;
    }
    if (ch === ')') {
      stack.pop();
      i++;
      continue;
    }
    i++;
  }
  return out;
}

interface Known {
  kindOf(name: string): { kind: MetricKind; counterLike: boolean } | undefined;
}

function knownIndex(known: KnownMetrics): Known {
  const kinds = new Map<string, MetricKind>();
  const typed = known instanceof Map;
  if (typed) for (const [n, k] of known as ReadonlyMap<string, MetricKind>) kinds.set(n, k);
  else for (const n of known as Iterable<string>) kinds.set(n, n.endsWith('_total') ? 'counter' : 'gauge');
  return {
    kindOf(name: string) {
      const k = kinds.get(name);
      if (k !== undefined) return { kind: k, counterLike: k === 'counter' };
      for (const suf of HISTOGRAM_SUFFIXES) {
        if (!name.endsWith(suf)) continue;
        const base = name.slice(0, -suf.length);
        const bk = kinds.get(base);
        if (bk === undefined) continue;
        // With plain names the kind is unknown: accept the suffix, as a histogram would have it.
        if (bk === 'histogram' || (bk === 'summary' && suf !== '_bucket') || !typed) return { kind: bk === 'gauge' ? 'histogram' : bk, counterLike: true };
      }
      return undefined;
    },
  };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function isDsRef(v: unknown): boolean {
  if (typeof v === 'string') return DS_REFS.has(v);
  if (isObj(v)) return typeof v.uid === 'string' && DS_REFS.has(v.uid) && (v.type === undefined || v.type === 'prometheus');
  return false;
}

function panelWhere(p: Json): string {
  return `panel ${String(p.id ?? '?')} "${String(p.title ?? '')}"`;
}

/** Lints one parsed dashboard; `file` only labels the problems. */
export function lintDashboard(file: string, dash: unknown, known: KnownMetrics): LintProblem[] {
  const problems: LintProblem[] = [];
  const add = (where: string, rule: LintRule, message: string): void => void problems.push({ file, where, rule, message });
  if (!isObj(dash)) {
    add('dashboard', 'json', 'not a JSON object');
    return problems;
  }
  const idx = knownIndex(known);

  // schema
  if (typeof dash.schemaVersion !== 'number' || dash.schemaVersion < MIN_SCHEMA_VERSION) add('dashboard', 'schema', `schemaVersion ${String(dash.schemaVersion)} < ${MIN_SCHEMA_VERSION} (Grafana ≥ 10)`);
  if (typeof dash.title !== 'string' || !dash.title) add('dashboard', 'schema', 'no title');
  if (typeof dash.uid !== 'string' || !dash.uid) add('dashboard', 'schema', 'no uid (provisioned dashboards need a stable uid)');
  const vars = isObj(dash.templating) && Array.isArray(dash.templating.list) ? (dash.templating.list as unknown[]).filter(isObj) : [];
  const dsVar = vars.find((v) => v.name === DATASOURCE_VARIABLE);
  if (!dsVar || dsVar.type !== 'datasource' || dsVar.query !== 'prometheus') add('templating', 'schema', `needs a variable "${DATASOURCE_VARIABLE}" of type datasource with query "prometheus"`);

  // datasource references anywhere
  const walk = (v: unknown, path: string, inBuiltinAnnotation: boolean): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`, inBuiltinAnnotation));
      return;
    }
    if (!isObj(v)) return;
    const builtin = inBuiltinAnnotation || (path.startsWith('annotations') && v.builtIn === 1);
    if ('datasource' in v) {
      const ds = v.datasource;
      const grafanaBuiltin = builtin && isObj(ds) && ds.type === 'grafana' && ds.uid === '-- Grafana --';
      if (!grafanaBuiltin && !isDsRef(ds)) add(path || 'dashboard', 'datasource', `datasource ${JSON.stringify(ds)} is not the \${${DATASOURCE_VARIABLE}} variable`);
    }
    for (const [k, x] of Object.entries(v)) if (k !== 'datasource') walk(x, path ? `${path}.${k}` : k, builtin);
  };
  walk(dash, '', false);

  // queries
  const lintExpr = (where: string, expr: string, checkRate: boolean): void => {
    const scan = scanPromql(expr);
    for (const f of scan.functions) {
      if (FORBIDDEN_FUNCTIONS.includes(f)) add(where, 'forbidden-function', `${f}() is not allowed; use rate(...[$__rate_interval])`);
      else if (!PROMQL_FUNCTIONS.has(f)) add(where, 'unknown-function', `unknown function ${f}()`);
    }
    for (const { name, fn } of scan.metrics) {
      const k = idx.kindOf(name);
      if (!k) {
        add(where, 'unknown-metric', `metric ${name} is not defined by any metrics file`);
        continue;
      }
      if (!checkRate) continue;
      if (k.counterLike && fn !== 'rate') add(where, 'rate', `${name} is a counter: read it with rate(), not ${fn ? `${fn}()` : 'raw'}`);
      if (!k.counterLike && fn === 'rate') add(where, 'rate', `${name} is a ${k.kind}: rate() of it is meaningless`);
    }
    for (const r of scan.rateRanges) if (r !== '$__rate_interval') add(where, 'rate-interval', `rate range [${r}] should be [$__rate_interval]`);
    for (const h of scan.hardcoded) add(where, 'hardcoded-instance', `hard-coded ${h.label}="${h.value}"; use a template variable`);
  };

  for (const v of vars) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : isObj(v.query) && typeof v.query.query === 'string' ? v.query.query : '';
    const where = `variable ${String(v.name)}`;
    const lv = /^\s*label_values\s*\(([\s\S]*)\)\s*$/.exec(q);
    const qr = /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(q);
    if (lv) {
      const args = lv[1]!;
      let depth = 0;
      let cut = -1;
      for (let i = 0; i < args.length; i++) {
        const c = args[i];
        if (c === '(' || c === '{' || c === '[') depth++;
        else if (c === ')' || c === '}' || c === ']') depth--;
        else if (c === ',' && depth === 0) cut = i;
      }
      if (cut >= 0) lintExpr(where, args.slice(0, cut), false);
    } else if (qr) lintExpr(where, qr[1]!, true);
  }

  const ids = new Set<unknown>();
  const lintPanel = (p: Json): void => {
    const where = panelWhere(p);
    if (ids.has(p.id)) add(where, 'schema', `duplicate panel id ${String(p.id)}`);
    ids.add(p.id);
    if (p.type === 'row') {
      if (Array.isArray(p.panels)) for (const c of p.panels) if (isObj(c)) lintPanel(c);
      return;
    }
    if (p.type === 'text') return;
    if (!('datasource' in p)) add(where, 'datasource', `panel has no datasource (it would use the default); set \${${DATASOURCE_VARIABLE}}`);
    const fc = isObj(p.fieldConfig) && isObj(p.fieldConfig.defaults) ? p.fieldConfig.defaults : undefined;
    if (!fc || typeof fc.unit !== 'string' || fc.unit.trim() === '') add(where, 'unit', 'no unit (fieldConfig.defaults.unit)');
    const targets = Array.isArray(p.targets) ? p.targets.filter(isObj) : [];
    if (!targets.some((t) => typeof t.expr === 'string' && t.expr.trim() !== '')) add(where, 'query', 'no PromQL query');
    for (const t of targets) if (typeof t.expr === 'string') lintExpr(`${where} target ${String(t.refId ?? '?')}`, t.expr, true);
  };
  if (Array.isArray(dash.panels)) {
    for (const p of dash.panels) if (isObj(p)) lintPanel(p);
  } else add('dashboard', 'schema', 'no panels array');
  return problems;
}

/** Lints every *.json in `dir` (sorted), plus uid uniqueness across them. */
export function lintDashboards(dir: string, knownMetricNames: KnownMetrics): LintProblem[] {
  const known: KnownMetrics = knownMetricNames instanceof Map ? (knownMetricNames as ReadonlyMap<string, MetricKind>) : [...(knownMetricNames as Iterable<string>)];
  const problems: LintProblem[] = [];
  const uids = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let dash: unknown;
    try {
      dash = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      problems.push({ file, where: 'file', rule: 'json', message: `does not parse: ${(e as Error).message}` });
      continue;
    }
    problems.push(...lintDashboard(file, dash, known));
    if (isObj(dash) && typeof dash.uid === 'string') {
      const other = uids.get(dash.uid);
      if (other) problems.push({ file, where: 'dashboard', rule: 'schema', message: `uid ${dash.uid} also used by ${other}` });
      else uids.set(dash.uid, file);
    }
  }
  return problems;
}

/** Names and kinds of every metric registered in `registries` (what lintDashboards checks against). */
export function knownMetricsOf(...registries: Registry[]): Map<string, MetricKind> {
  const out = new Map<string, MetricKind>();
  for (const r of registries) for (const m of r.getMetricsAsArray()) out.set(m.name, String(m.type) as MetricKind);
  return out;
}

export function formatProblems(problems: readonly LintProblem[]): string {
  return problems.map((p) => `${p.file}: ${p.where}: [${p.rule}] ${p.message}`).join('\n');
}

/** CLI: `node dist/grafana/lint.js [dir]` lints grafana/dashboards against the three daemons' metrics. */
async function main(): Promise<void> {
  const { repoRoot } = await import('../common/paths.js');
  const { createRelayMetrics } = await import('../relay/metrics.js');
  const { createClientMetrics } = await import('../client/metrics.js');
  const { createChainMetrics } = await import('../chain/node/metrics.js');
  const dir = process.argv[2] ?? join(repoRoot(), 'grafana', 'dashboards');
  const known = knownMetricsOf(createRelayMetrics().registry, createClientMetrics().registry, createChainMetrics().registry);
  const problems = lintDashboards(dir, known);
  if (problems.length) {
    process.stderr.write(`${formatProblems(problems)}\n${problems.length} problem(s)\n`);
    process.exitCode = 1;
  } else process.stdout.write(`dashboards ok (${dir})\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
