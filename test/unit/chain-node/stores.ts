/** The two KvStore implementations, opened for a test suite that runs against each (memory and LevelDB in a temp dir). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore, MemoryStore, type KvStore } from '../../../chain/node/store.js';

export interface OpenStore {
  readonly store: KvStore;
  /** Closes the store and removes its directory. */
  close(): Promise<void>;
}

export type StoreOpener = () => Promise<OpenStore>;

/** [name, opener] for each implementation; each call of an opener gives a fresh, empty store. */
export function storeKinds(tag: string): Array<[string, StoreOpener]> {
  return [
    ['memory', async () => ({ store: new MemoryStore(), close: async () => {} })],
    [
      'LevelDB',
      async () => {
        const dir = mkdtempSync(join(tmpdir(), `tvc-${tag}-`));
        const store = new LevelStore(join(dir, 'db'));
        await store.open();
        return {
          store,
          close: async () => {
            await store.close();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      },
    ],
  ];
}
