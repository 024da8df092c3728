/**
 * A value computed once per object, for objects the caller treats as immutable (a decoded tx, a
 * receipt held by a state). The value is kept on the object as a non-enumerable symbol property:
 * spread, Object.keys, JSON, structuredClone and deep equality never see it, so a copy of the
 * object (e.g. `{...stx, tx: other}`) never carries a value computed from the original. A WeakMap
 * keyed by the object would cost more: its ephemeron table, one entry per object alive, is
 * grown, rehashed and traced by every garbage collection, and a node decodes ≈ 1,000 txs a
 * second at saturation (`npm run --silent bench:payload`, `follow_us_per_tx`). A frozen or
 * sealed object gets no memo: the value is computed on each call.
 */
export function memoOn<O extends object, V>(obj: O, key: symbol, compute: (o: O) => V): V {
  const held = (obj as Record<symbol, V | undefined>)[key];
  if (held !== undefined) return held;
  const value = compute(obj);
  if (Object.isExtensible(obj)) Object.defineProperty(obj, key, { value });
  return value;
}
