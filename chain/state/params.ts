/**
 * Chain parameters. Heights are block counts of the chain that enforces the delay
 * (beacon heights for unbonding/unvote, the channel's shard heights for challenge windows).
 * Mainnet figures assume ~1 s blocks.
 */
export const UNIT = 1_000_000n; // 1 TOP = 10^6 base units

export type Role = 'relay' | 'validator' | 'auditor';
export const ROLES: readonly Role[] = ['relay', 'validator', 'auditor'];

export interface RewardSplitBps {
  /** Share of each epoch's issuance paid to active validator-role nodes, by deposit. */
  validators: bigint;
  /** Share paid to active auditor-role nodes, by deposit. */
  auditors: bigint;
  /** Share paid to voters, by locked vote amount on active nodes. */
  voters: bigint;
}

export interface CommitteeParams {
  validatorsPerShard: number;
  auditorsPerShard: number;
  beaconSize: number;
  /** At most floor(size / rotationDivisor) sitting members are replaced per election (beyond those no longer eligible). */
  rotationDivisor: number;
}

export interface ResourceParams {
  /** Locked base units that buy one fee-free transaction per window. */
  lockPerTx: bigint;
  /** Blocks for a fully used quota to refill (linear). Also the minimum lock age before a withdrawal. */
  windowBlocks: number;
}

export interface ChainParams {
  chainId: string;
  shardCount: number;
  minDeposit: Record<Role, bigint>;
  /** Minimum fee of a transaction not covered by a resource quota; every fee is burned. */
  minFee: bigint;
  unbondingBlocks: number;
  voteUnlockBlocks: number;
  challengeWindowBlocks: number;
  /** Percent of each channel claim's delta that is burned; burn = ceil(delta * pct / 100). */
  claimBurnPercent: bigint;
  /** Slash for double signing, in basis points of the node deposit (burned). */
  slashBps: bigint;
  epochBlocks: number;
  rewardPerEpoch: bigint;
  rewardSplitBps: RewardSplitBps;
  resource: ResourceParams;
  committee: CommitteeParams;
}

/** TOP's 60/10/20 (validators/auditors/voters) scaled to sum to 100%. */
export const REWARD_SPLIT_BPS: RewardSplitBps = { validators: 6667n, auditors: 1111n, voters: 2222n };

export const MAINNET_PARAMS: ChainParams = {
  chainId: 'topvpn-mainnet',
  shardCount: 4,
  minDeposit: { relay: 200_000n * UNIT, validator: 500_000n * UNIT, auditor: 1_000_000n * UNIT },
  minFee: UNIT / 100n, // 0.01 TOP
  unbondingBlocks: 72 * 3600, // 72 h (TOP's redeem delay)
  voteUnlockBlocks: 30 * 86400, // 30 days (TOP's shortest vote lock)
  challengeWindowBlocks: 3600, // 1 h for a relay's watchtower to claim
  claimBurnPercent: 10n,
  slashBps: 500n, // 5%, as Cosmos double-sign
  epochBlocks: 3600,
  rewardPerEpoch: 10_000n * UNIT,
  rewardSplitBps: REWARD_SPLIT_BPS,
  resource: { lockPerTx: 10n * UNIT, windowBlocks: 86400 }, // TGAS-like: refills over 24 h
  committee: { validatorsPerShard: 128, auditorsPerShard: 128, beaconSize: 128, rotationDivisor: 4 },
};

/** Small, fast parameters for the devnet and tests (groups of 4 are a demo, not security). */
export const DEVNET_PARAMS: ChainParams = {
  ...MAINNET_PARAMS,
  chainId: 'topvpn-devnet',
  shardCount: 2,
  unbondingBlocks: 20,
  voteUnlockBlocks: 10,
  challengeWindowBlocks: 10,
  epochBlocks: 10,
  rewardPerEpoch: 1_000n * UNIT,
  resource: { lockPerTx: 10n * UNIT, windowBlocks: 100 },
  committee: { validatorsPerShard: 4, auditorsPerShard: 4, beaconSize: 4, rotationDivisor: 4 },
};

export function makeParams(overrides: Partial<ChainParams> = {}, base: ChainParams = DEVNET_PARAMS): ChainParams {
  return { ...base, ...overrides };
}
