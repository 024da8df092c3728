import type { ChainState } from './types.js';

/** Where one chain's value sits. `outboxPending` = sent and not yet confirmed by the destination. */
export interface SupplyOf {
  chain: string;
  balances: bigint;
  resourceLocked: bigint;
  nodeDeposits: bigint;
  votes: bigint;
  unlocking: bigint;
  /** Open and closing channels: deposit − claimed. */
  channels: bigint;
  outboxPending: bigint;
  burned: bigint;
  reserve: bigint;
  issued: bigint;
}

export function supplyOf(s: ChainState): SupplyOf {
  let balances = 0n;
  let resourceLocked = 0n;
  for (const a of s.accounts.values()) {
    balances += a.balance;
    resourceLocked += a.resource.locked;
  }
  let nodeDeposits = 0n;
  for (const n of Object.values(s.nodes)) nodeDeposits += n.deposit;
  let votes = 0n;
  for (const v of Object.values(s.votes)) votes += v.amount;
  let unlocking = 0n;
  for (const u of s.unlocking) unlocking += u.amount;
  let channels = 0n;
  for (const c of s.channels.values()) if (c.status !== 'finalized') channels += c.deposit - c.claimed;
  let outboxPending = 0n;
  for (const b of Object.values(s.outbox)) for (const r of b.pending) outboxPending += r.amount;
  return { chain: s.chain, balances, resourceLocked, nodeDeposits, votes, unlocking, channels, outboxPending, burned: s.burned, reserve: s.reserve, issued: s.issued };
}

/** What genesis created: `total` = allocations + pre-registered deposits; `reserve` = reward reserve. */
export interface GenesisSupply {
  total: bigint;
  reserve: bigint;
}

export interface SupplyReport {
  ok: boolean;
  /** genesis.total + Σ issued */
  expected: bigint;
  /** balances + resource locks + node deposits + votes + unlocking + channels + in flight + burned */
  actual: bigint;
  /** Σ receipts sent whose id is above the destination's applied id (needs every chain's state). */
  inFlight: bigint;
  /** reserve + issued === genesis reserve */
  reserveOk: boolean;
  /**
   * False when the states given are not a consistent cut: for some pair of chains the destination
   * has applied a receipt the source's state has not sent yet, or the source has seen a
   * confirmation for receipts the destination's state has not applied yet (a node catching up one
   * chain ahead of another). The invariant is then not decidable from these states (ok is false
   * and the message says why); it is once the lagging chain catches up.
   */
  consistent: boolean;
  perChain: SupplyOf[];
  message: string;
}

/** Why the states are not a consistent cut (one line per pair of chains), or [] if they are. */
export function inconsistentCut(states: ChainState[]): string[] {
  const byChain = new Map(states.map((s) => [s.chain as string, s]));
  const out: string[] = [];
  for (const src of states) {
    for (const dest of states) {
      if (dest === src) continue;
      const applied = dest.inbox[src.chain] ?? 0;
      const ob = src.outbox[dest.chain];
      const sent = ob ? ob.nextId - 1 : 0;
      const confirmed = ob ? ob.confirmedUpTo : 0;
      if (applied > sent) out.push(`${dest.chain}@${dest.height} applied receipts from ${src.chain} up to id ${applied}, ${src.chain}@${src.height} has sent up to ${sent}`);
      else if (confirmed > applied) out.push(`${src.chain}@${src.height} saw receipts to ${dest.chain} confirmed up to id ${confirmed}, ${dest.chain}@${dest.height} has applied up to ${applied}`);
    }
  }
  return byChain.size === states.length ? out : [...out, 'a chain is given twice'];
}

/**
 * The supply invariant over all chains (pass the beacon and every shard, any order):
 * genesis + issued = balances + resource locks + node deposits + locked votes (incl. unlocking)
 * + channel deposits + in-flight receipts + burned; and reserve + issued = genesis reserve.
 * In flight counts a receipt from its source block until the destination applies it.
 */
export function checkSupply(states: ChainState[], genesis: GenesisSupply): SupplyReport {
  const byChain = new Map(states.map((s) => [s.chain as string, s]));
  let inFlight = 0n;
  let held = 0n;
  let issued = 0n;
  let reserve = 0n;
  const perChain: SupplyOf[] = [];
  for (const s of states) {
    const p = supplyOf(s);
    perChain.push(p);
    held += p.balances + p.resourceLocked + p.nodeDeposits + p.votes + p.unlocking + p.channels + p.burned;
    issued += p.issued;
    reserve += p.reserve;
    for (const dest of Object.keys(s.outbox)) {
      const applied = byChain.get(dest)?.inbox[s.chain] ?? 0;
      for (const r of s.outbox[dest]!.pending) if (r.id > applied) inFlight += r.amount;
    }
  }
  const expected = genesis.total + issued;
  const actual = held + inFlight;
  const reserveOk = reserve + issued === genesis.reserve;
  const cut = inconsistentCut(states);
  const consistent = cut.length === 0;
  const ok = consistent && expected === actual && reserveOk;
  const message = ok
    ? 'supply holds'
    : !consistent
      ? `supply not decidable: the chains' states are not a consistent cut (${cut.join('; ')})`
      : `supply broken: expected ${expected} (genesis ${genesis.total} + issued ${issued}), actual ${actual} (in flight ${inFlight}); reserve ${reserve} + issued ${issued} vs ${genesis.reserve}`;
  return { ok, expected, actual, inFlight, reserveOk, consistent, perChain, message };
}

export class SupplyError extends Error {
  override name = 'SupplyError';
}

export function assertSupply(states: ChainState[], genesis: GenesisSupply): SupplyReport {
  const r = checkSupply(states, genesis);
  if (!r.ok) throw new SupplyError(r.message);
  return r;
}
