import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** This package's version, from the package.json it ships with (the image copies it too). */
export const VERSION = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  }
).version;
