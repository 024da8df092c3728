/**
 * Paid re-path machinery of the client daemon: standby channels with spares, replacing a dead
 * or departed hop by a payable candidate with a channel opened on the spot, retiring the
 * replaced hop's channel, and reaching the chain RPC directly while the tunnel is down.
 *
 * Contracts:
 * - A dead middle is swapped for a spare with a standby channel (no chain round trip); any
 *   other dead hop gets a RelaySource candidate and a channel opened on the spot
 *   (`replacePaid`); the replaced hop's channel is closed once the circuit is back
 *   (`closeRetired`), or at disconnect (`closeAll`).
 * - The daemon's path and hop channels stay the daemon's: read and replaced through the
 *   accessors of PaidRepathDeps.
 */
import { formatEndpoint } from '../relay/addr.js';
import { type hopRole, relayKey, repairPath, repath } from './circuit-repath.js';
import type { ClientEvent, Replaced, SettledChannel } from './daemon-types.js';
import { nextHopOf, type RpcReach } from './entry-guard.js';
import type { RelaySpec } from './relay-list.js';
import type { RouteManager } from './routes.js';
import type { ClientPayments } from './payments/client-payments.js';
import type { HopChannel, PaymentSession } from './payments/session.js';
import type { StandbyChannels } from './payments/standby.js';
import { rpcEndpoint } from './payments/rpc-endpoint.js';
import type { RepathDeps } from './unpaid-repath.js';

/** What PaidRepath needs from the daemon. */
export interface PaidRepathDeps extends RepathDeps {
  pay: ClientPayments;
  routes: RouteManager;
  tunName: string;
  spares: RelaySpec[];
  payHops(): HopChannel[] | undefined;
  setPayHops(h: HopChannel[]): void;
  /** The circuit is up (not building, reconnecting or closing). */
  isUp(): boolean;
  emit(e: ClientEvent): void;
}

export class PaidRepath {
  /** Paid --reconnect: channels opened with spares at connect (client/payments/standby.ts). */
  standby: StandbyChannels | undefined;
  /** The chain RPC endpoint the kill switch admits, and how it was reached before the tunnel. */
  rpc: RpcReach | undefined;
  /** Channels of hops replaced by a re-path (closed once the circuit is back, and at disconnect). */
  private retired: HopChannel[] = [];
  private retiredPending = false;
  /** Middles that stopped answering: never swapped back in from the standby spares. */
  private readonly deadRelays = new Set<string>();

  constructor(private readonly d: PaidRepathDeps) {}

  /** Replaced channels wait to be closed (after the circuit is back). */
  get hasRetired(): boolean {
    return this.retiredPending;
  }

  /**
   * The chain RPC's endpoint and, before any tunnel route exists, its next hop (ARP) and
   * route; a failure leaves the RPC outside the kill switch (logged), as before.
   */
  async resolveRpc(url: string): Promise<void> {
    try {
      const endpoint = await rpcEndpoint(url);
      let route: { gateway?: string; dev?: string; type?: string } | undefined;
      try {
        route = this.d.routes.lookup(endpoint.host);
      } catch {
        route = undefined;
      }
      this.rpc = { endpoint, arpPeers: nextHopOf(this.d.routes, endpoint.host), ...(route ? { route } : {}) };
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'chain RPC endpoint unknown: the kill switch will not admit it');
    }
  }

  /**
   * Runs `fn` (chain RPC calls) with the RPC host reached directly: if the tunnel's routes
   * capture it, a /32 route through the way it was reached at connect is added for the call.
   */
  async withDirectRpc<T>(fn: () => Promise<T>): Promise<T> {
    const { rpc, d } = this;
    let remove: (() => void) | undefined;
    // While the circuit is up the tunnel carries the calls; the detour is for when it is down.
    if (!d.isUp() && rpc?.route?.dev && rpc.route.type !== 'local' && rpc.route.dev !== 'lo' && rpc.route.dev !== d.tunName) {
      try {
        if (d.routes.lookup(rpc.endpoint.host).dev === d.tunName) {
          // Recorded in the route state: a kill -9 during the call leaves no host route behind.
          remove = d.routes.addTemporary([`${rpc.endpoint.host}/32`, ...(rpc.route.gateway ? ['via', rpc.route.gateway] : []), 'dev', rpc.route.dev]);
        }
      } catch (err) {
        d.log.warn({ err: (err as Error).message }, 'no direct route to the chain RPC');
      }
    }
    try {
      return await fn();
    } finally {
      remove?.();
    }
  }

  /**
   * Candidates of the relay source that can be paid (chain address and price known), in its
   * order except that spares holding a standby channel come last: that channel stays for a
   * dead middle as long as another relay can be paid.
   */
  async payableCandidates(role: ReturnType<typeof hopRole>, exclude: ReadonlySet<string>): Promise<RelaySpec[]> {
    const c = (await this.d.source.candidates(role, exclude, this.d.path())).filter((r) => r.address !== undefined && r.pricePerGiB !== undefined);
    const standing = this.standby?.relays() ?? new Set<string>();
    return [...c.filter((r) => !standing.has(r.address!)), ...c.filter((r) => standing.has(r.address!))];
  }

  /** A spare with a standby channel, not in `exclude`, could replace a middle. */
  hasStandbyMiddle(role: ReturnType<typeof hopRole>, exclude: ReadonlySet<string>): boolean {
    return role === 'middle' && this.standby !== undefined && this.standby.usable(this.d.spares).some((s) => !exclude.has(relayKey(s)));
  }

  /**
   * A middle that stopped answering is swapped for a spare with a standby channel (no chain
   * round trip); undefined if `deadHop` is no middle or no standby spare fits.
   */
  swapStandby(deadHop: number): Replaced {
    const { d } = this;
    const path = d.path();
    if (!(deadHop > 0 && deadHop < path.length - 1 && this.standby && d.payHops())) return undefined;
    this.deadRelays.add(relayKey(path[deadHop]!));
    const r = repairPath(path, this.standby.usable(d.spares), deadHop, this.deadRelays);
    const hop = r.replaced ? this.standby.take(r.replaced.to.address!) : undefined;
    if (!r.replaced || !hop) return undefined;
    this.retire(deadHop, hop);
    d.log.warn({ hop: deadHop, from: formatEndpoint(r.replaced.from.endpoint), to: formatEndpoint(r.replaced.to.endpoint) }, 'replacing a dead relay (standby channel)');
    d.setPath(r.path);
    return { hop: deadHop, role: r.replaced.role, from: formatEndpoint(r.replaced.from.endpoint), to: formatEndpoint(r.replaced.to.endpoint) };
  }

  /**
   * Marks the relay at `deadHop` dead (cool-down), takes the first payable candidate of
   * the relay source, opens (or reuses) a channel with it through the chain RPC (directly: the
   * tunnel is down), and puts both in place; the old hop's channel is retired (closed once the
   * circuit is back). No candidate, or the chain unreachable: the path is unchanged.
   */
  async replacePaid(deadHop: number): Promise<Replaced> {
    const { d } = this;
    const pay = d.pay;
    const dead = d.path()[deadHop];
    if (!d.payHops() || dead === undefined || (deadHop === 0 && d.ws)) return undefined;
    const now = d.clock.now();
    d.avoid.mark(relayKey(dead), now);
    let r;
    try {
      r = await repath(d.path(), { candidates: (role, ex) => this.payableCandidates(role, ex) }, deadHop, d.avoid.active(now));
    } catch (err) {
      d.log.warn({ err: (err as Error).message }, 'relay source failed; retrying the same path');
      return undefined;
    }
    if (!r.replaced || d.isClosing()) return undefined;
    const { from, to, role } = r.replaced;
    let hop: HopChannel | undefined;
    try {
      [hop] = await this.withDirectRpc(() => pay.prepare([{ relay: to.address!, pricePerGiB: to.pricePerGiB! }]));
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      d.log.warn({ err: (err as Error).message, cause: cause?.code ?? cause?.message, relay: to.address!.slice(0, 16) }, 'cannot open a channel with the replacement; retrying the same path');
      return undefined;
    }
    if (!hop || d.isClosing()) return undefined;
    // A spare's standby channel now pays a hop: it is no longer standing by.
    this.standby?.take(to.address!);
    d.log.warn({ hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint), channel: hop.channelId.slice(0, 12) }, 'replacing a dead relay (new channel)');
    d.emit({ event: 'channels', hops: [...d.payHops()!.map((h, i) => (i === deadHop ? hop : h))].map((h) => ({ channelId: h.channelId, relay: h.relay ?? '', deposit: h.deposit.toString() })) });
    this.retire(deadHop, hop);
    if (deadHop === 0) d.moveEntry(to);
    d.setPath(r.path);
    return { hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) };
  }

  /** Puts `hop` in place of the channel of hop `i`; the old one is released and closed later. */
  private retire(i: number, hop: HopChannel): void {
    const hops = this.d.payHops()!;
    const old = hops[i]!;
    this.d.pay.release([old]);
    this.retired.push(old);
    this.retiredPending = true;
    this.d.setPayHops(hops.map((h, j) => (j === i ? hop : h)));
  }

  /** Closes the channels of replaced hops (standby channels stay); retried at disconnect if it fails. */
  async closeRetired(): Promise<void> {
    const pay = this.d.pay;
    this.retiredPending = false;
    try {
      const txs = await this.withDirectRpc(() => pay.cleanup(this.standby?.relays()));
      this.d.log.info({ closeTxs: txs.length }, 'channels of replaced relays closed');
    } catch (err) {
      this.retiredPending = true;
      this.d.log.warn({ err: (err as Error).message }, 'closing the channels of replaced relays failed; retried at disconnect');
    }
  }

  /**
   * Closes the channels of this run, `hops` (the current ones, with the session's figures `st`)
   * and those of replaced hops; the relays claim inside the challenge window, the rest is
   * refunded on finalize. Emits 'settled' (with `error` if closing failed).
   */
  async closeAll(hops: HopChannel[], st: ReturnType<PaymentSession['stats']> | undefined): Promise<void> {
    const pay = this.d.pay;
    const channels: SettledChannel[] = hops.map((h, i) => ({
      channelId: h.channelId,
      relay: h.relay ?? '',
      deposit: h.deposit.toString(),
      promised: (st?.hops[i]?.promisedAmount ?? 0n).toString(),
      measuredBytes: (st?.hops[i]?.measuredBytes ?? 0n).toString(),
      signed: st?.hops[i]?.signed ?? 0,
    }));
    const known = pay.channels();
    const replaced = this.retired.map((h) => ({ channelId: h.channelId, relay: h.relay ?? '', promised: (known.find((k) => k.channelId === h.channelId)?.promised ?? 0n).toString() }));
    const extra = replaced.length > 0 ? { replaced } : {};
    try {
      pay.release(hops);
      const closeTxs = await pay.cleanup();
      this.d.log.info({ closeTxs: closeTxs.length }, 'payment channels closed');
      this.d.emit({ event: 'settled', closeTxs, channels, ...extra });
    } catch (err) {
      this.d.log.error({ err: (err as Error).message }, 'closing payment channels failed');
      this.d.emit({ event: 'settled', closeTxs: [], channels, ...extra, error: (err as Error).message });
    }
  }
}
