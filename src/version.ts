import { readFileSync } from 'node:fs';

/** Kiln's version: package.json's, one level up from both src/version.ts and dist/version.js. */
export const KILN_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
