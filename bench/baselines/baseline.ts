/** What every baseline tunnel (WireGuard, OpenVPN) hands the benchmark. */
export interface TunnelBaseline {
  /** Inner address of the server-side peer (iperf3/ping target). */
  peerIp: string;
  /** What ran, for the log (e.g. "wireguard-go v0.0.20220316"). */
  impl: string;
  /** Removes the tunnel's interfaces and stops its daemons. */
  stop(): Promise<void>;
}

/** The peer cannot run on this machine (reason in the message). */
export class BaselineUnavailableError extends Error {
  override readonly name = 'BaselineUnavailableError';
}

/** Polls `check` every 50 ms until it returns true; throws BaselineUnavailableError after timeoutMs. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BaselineUnavailableError(`timed out waiting for ${what}`);
}
