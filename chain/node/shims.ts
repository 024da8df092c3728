/**
 * Node 20 shims libp2p 3 needs; import this module before any libp2p module.
 * - Promise.withResolvers (ES2024, absent on Node 20).
 * - globalThis.WebSocket from `ws` (the websockets transport dials with the global).
 */
import WebSocketImpl from 'ws';

interface WithResolvers<T> {
  promise: Promise<T>;
  resolve: (v: T | PromiseLike<T>) => void;
  reject: (e?: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(): WithResolvers<T> {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const G = globalThis as unknown as { WebSocket?: unknown };
if (G.WebSocket === undefined) G.WebSocket = WebSocketImpl;

export const shimsLoaded = true;
