/**
 * What discovery asks the chain: a node's registration, role, stake and jail status.
 * Injected (an RPC client in daemons, a map in tests).
 */
export interface ChainNodeStatus {
  registered: boolean;
  /** 'relay' | 'validator' | 'auditor' on the current chain. */
  role: string;
  /** Relay deposit, base units. */
  stake: bigint;
  jailed: boolean;
}

export interface ChainView {
  /** The node's status, or undefined when the chain has never heard of it. May throw when the chain is unreachable. */
  nodeStatus(address: string): Promise<ChainNodeStatus | undefined>;
}

/** A ChainView over a mutable map (tests, devnets without RPC). */
export class MapChainView implements ChainView {
  readonly nodes = new Map<string, ChainNodeStatus>();
  /** How many times nodeStatus was called. */
  calls = 0;
  /** When set, nodeStatus throws it (an unreachable chain). */
  failWith: Error | undefined;

  set(address: string, status: ChainNodeStatus): void {
    this.nodes.set(address, { ...status });
  }

  /** A registered, unjailed relay with `stake`. */
  setRelay(address: string, stake: bigint): void {
    this.set(address, { registered: true, role: 'relay', stake, jailed: false });
  }

  async nodeStatus(address: string): Promise<ChainNodeStatus | undefined> {
    this.calls++;
    if (this.failWith) throw this.failWith;
    const s = this.nodes.get(address);
    return s ? { ...s } : undefined;
  }
}
