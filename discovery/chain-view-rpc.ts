/**
 * A ChainView over a chain node's JSON-RPC: `node_get [address]` (one registered node), or,
 * on nodes without it (JSON-RPC "method not found"), `node_list` scanned for the address.
 * Unknown node → undefined; transport errors propagate (the Directory treats them as an
 * unreachable chain). A node that unregistered (status "unbonding") has withdrawn its stake:
 * it reads as stake 0 although its deposit is still locked until the unbonding delay ends.
 */
import { RpcCallError, rpcCall } from '../chain/node/rpc-client.js';
import type { ChainNodeStatus, ChainView } from './chain-view.js';

const RPC_METHOD_NOT_FOUND = -32601;
const RPC_NOT_FOUND = -32001;

export type RpcFn = <T>(url: string, method: string, params?: unknown[], timeoutMs?: number) => Promise<T>;

interface NodeGetView {
  role: string;
  status: string;
  deposit: string;
  jailed: boolean;
}

interface NodeListRecord {
  owner: string;
  role: string;
  status: string;
  deposit: string;
  slashed?: string;
}

/** The stake that counts for discovery: none once the node unregistered (its deposit is only waiting to return). */
function stakeOf(status: string, deposit: string): bigint {
  return status === 'unbonding' ? 0n : BigInt(deposit);
}

export class RpcChainView implements ChainView {
  /** Whether the node answers node_get (undefined until first asked). */
  private hasNodeGet: boolean | undefined;

  constructor(
    readonly url: string,
    private readonly timeoutMs = 10_000,
    private readonly call: RpcFn = rpcCall,
  ) {}

  async nodeStatus(address: string): Promise<ChainNodeStatus | undefined> {
    if (this.hasNodeGet !== false) {
      try {
        const v = await this.call<NodeGetView>(this.url, 'node_get', [address], this.timeoutMs);
        this.hasNodeGet = true;
        return { registered: true, role: v.role, stake: stakeOf(v.status, v.deposit), jailed: v.jailed === true || v.status === 'jailed' };
      } catch (e) {
        if (e instanceof RpcCallError && e.code === RPC_NOT_FOUND) return undefined;
        if (!(e instanceof RpcCallError && e.code === RPC_METHOD_NOT_FOUND)) throw e;
        this.hasNodeGet = false;
      }
    }
    const list = await this.call<{ nodes: NodeListRecord[] }>(this.url, 'node_list', [], this.timeoutMs);
    const n = list.nodes.find((x) => x.owner === address);
    if (!n) return undefined;
    return { registered: true, role: n.role, stake: stakeOf(n.status, n.deposit), jailed: n.status === 'jailed' || (n.slashed !== undefined && BigInt(n.slashed) > 0n) };
  }
}
