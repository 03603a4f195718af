import { createRequire } from 'node:module';

// src/ and dist/ both sit next to package.json, which `npm pack` always ships.
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

/** The package version. */
export const VERSION: string = pkg.version;

/** What whisper-ts sends as User-Agent to the CA (ACME servers require one). */
export const USER_AGENT = `whisper-ts/${VERSION}`;
