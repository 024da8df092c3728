import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder holding package.json), found from this file's location in src or dist. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('topvpn: cannot find the package root');
    dir = up;
  }
}

/** Path of a compiled entry point, e.g. distBin('relay/cli') -> <root>/dist/relay/cli.js */
export function distBin(name: string): string {
  return join(repoRoot(), 'dist', `${name}.js`);
}
