/**
 * A prom-client Registry that runs `beforeScrape` (e.g. syncing counters from an engine's
 * cumulative stats) each time its metrics are collected, so every scrape is current without
 * a polling timer. `beforeScrape` must be cheap and must not throw (errors are logged by the
 * caller's function itself; a throw here fails the scrape with 500).
 */
import { Registry } from 'prom-client';

export class ObservingRegistry extends Registry {
  constructor(private readonly beforeScrape: () => void) {
    super();
  }

  override async metrics(): Promise<string> {
    this.beforeScrape();
    return super.metrics();
  }
}
