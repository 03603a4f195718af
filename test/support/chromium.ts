import { access, constants } from 'node:fs/promises';
import puppeteer, { type Browser } from 'puppeteer-core';

/** Debian's Chromium (`apt-get install chromium`; `scripts/env/install.sh` installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Runs `fn` with a headless Chromium (the system's, driven by puppeteer-core), closed afterwards however `fn` ends.
 * Fails with a clear message when the executable is missing, rather than with puppeteer's spawn error.
 */
export async function withChromium<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`Chromium is missing: ${CHROMIUM} is not an executable (install Debian's chromium package, or run scripts/env/install.sh)`);
  }
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      // Chromium refuses to run as root with its sandbox; tests in containers often run as root.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ],
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
