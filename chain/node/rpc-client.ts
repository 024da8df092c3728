/** Minimal JSON-RPC 2.0 client over HTTP (global fetch, kept-alive connections). */
export class RpcCallError extends Error {
  override name = 'RpcCallError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

let nextId = 1;

/** Error codes (undici's and the socket's) of a connection closed under a request before its response arrived. */
const RESET_CODES: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE']);

/** True if `e` (from fetch or from reading its body) is a connection reset (RESET_CODES), not a timeout or an HTTP answer. */
export function isConnectionReset(e: unknown): boolean {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' && RESET_CODES.has(cause.code);
}

/** The JSON text of a JSON-RPC request or batch: bigints as decimal strings (as the node's amounts). */
export function jsonRpcBody(request: unknown): string {
  return JSON.stringify(request, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * POSTs a JSON-RPC request (or batch, encoded by jsonRpcBody) and returns the parsed answer. A connection reset before
 * the answer is retried once on a new connection: a node closes a kept-alive connection after
 * its idle timeout, and a request sent just then meets "other side closed" although the node
 * never read it. Every topchain method may be sent twice: reads are reads, and `tx_submit` of
 * the same signed tx is admitted once (the pool and the forwarded-slot map key it by hash; if
 * it already committed, the second answer is a stale-nonce error). A timeout is never retried.
 */
export async function postJsonRpc(url: string, request: unknown, timeoutMs = 10_000): Promise<unknown> {
  const body = jsonRpcBody(request);
  const signal = AbortSignal.timeout(timeoutMs);
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
      return await res.json();
    } catch (e) {
      if (attempt > 0 || signal.aborted || !isConnectionReset(e)) throw e;
    }
  }
}

/** Calls `method`; resolves with `result` or throws RpcCallError (JSON-RPC error) / Error (transport). */
export async function rpcCall<T = unknown>(url: string, method: string, params: unknown[] | Record<string, unknown> = [], timeoutMs = 10_000): Promise<T> {
  const j = (await postJsonRpc(url, { jsonrpc: '2.0', id: nextId++, method, params }, timeoutMs)) as { result?: T; error?: { code: number; message: string; data?: unknown } };
  if (j.error) throw new RpcCallError(j.error.code, j.error.message, j.error.data);
  return j.result as T;
}

/** Part of what `supply_get` returns (rpc-methods.ts). */
export interface SupplyAnswer {
  readonly ok: boolean;
  /** False while the node's chains are not a consistent cut (chain/state/supply.ts): ok is undecided. */
  readonly consistent: boolean;
  readonly message: string;
}

/**
 * A node's supply verdict: `ask` (its supply_get) again every 200 ms while its chains are not a
 * consistent cut (it is catching up one chain ahead of another), for up to `waitMs`; the last answer.
 */
export async function decidedSupply(ask: () => Promise<SupplyAnswer>, waitMs = 20_000): Promise<SupplyAnswer> {
  const until = Date.now() + waitMs;
  let s = await ask();
  while (!s.consistent && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    s = await ask();
  }
  return s;
}

/** What `account_get` returns about nonces (`pendingNonce` is absent from older nodes). */
export interface AccountNonces {
  readonly nonce: number;
  readonly pendingNonce?: number;
}

/** The nonce a new tx of this account should carry: after its txs still pending in the node's pool. */
export function nextNonce(a: AccountNonces): number {
  return Math.max(a.nonce, a.pendingNonce ?? a.nonce);
}
