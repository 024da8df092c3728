/**
 * The relay's check of a CHANNEL_BIND (pure): may this circuit be billed to that channel?
 * The caller fetched the channel from the chain (null = unknown, undefined = chain unreachable).
 */
import type { Channel } from '../../chain/state/types.js';
import { amountForBytes } from '../../protocol/payment-price.js';
import type { BindRefusal } from '../../protocol/payment.js';

export interface ChannelBind {
  chainId: string;
  channelId: string;
  payer: string;
}

export interface BindContext {
  chainId: string;
  /** Our relay address. */
  relay: string;
  pricePerGiB: bigint;
  /** Remaining deposit (deposit − claimed − what the best receipt already promises) must pay at least this many bytes. */
  minRemainingBytes: bigint;
  /** Amount our best receipt for the channel already promises (0 if none). */
  promised: bigint;
}

export type BindVerdict = { ok: true; channel: Channel } | { ok: false; reason: BindRefusal };

/**
 * Refusals, in order: chain_unavailable (channel undefined), foreign_chain, unknown_channel
 * (null or another id), wrong_relay, wrong_payer, not_open (closing or finalized: a closing
 * channel can still be claimed but must not take new traffic), deposit_exhausted (what is left
 * after max(claimed, promised) pays fewer than minRemainingBytes at our price).
 */
export function checkChannelBind(bind: ChannelBind, channel: Channel | null | undefined, ctx: BindContext): BindVerdict {
  if (channel === undefined) return { ok: false, reason: 'chain_unavailable' };
  if (bind.chainId !== ctx.chainId) return { ok: false, reason: 'foreign_chain' };
  if (channel === null || channel.id !== bind.channelId) return { ok: false, reason: 'unknown_channel' };
  if (channel.relay !== ctx.relay) return { ok: false, reason: 'wrong_relay' };
  if (channel.payer !== bind.payer) return { ok: false, reason: 'wrong_payer' };
  if (channel.status !== 'open') return { ok: false, reason: 'not_open' };
  const used = channel.claimed > ctx.promised ? channel.claimed : ctx.promised;
  const remaining = channel.deposit - used;
  if (remaining < amountForBytes(ctx.minRemainingBytes, ctx.pricePerGiB) || remaining <= 0n) return { ok: false, reason: 'deposit_exhausted' };
  return { ok: true, channel };
}
