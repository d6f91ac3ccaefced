import { chromium, type Browser } from 'playwright-core';

/**
 * Launches the system's Chromium headless through `playwright-core` (never a
 * downloaded browser), with background networking off. Playwright gives each launch a fresh
 * temporary profile (and refuses `--user-data-dir` for non-persistent launches).
 * The path comes from `AIRLOCK_CHROMIUM`, else `/usr/bin/chromium`.
 *
 * @example
 * ```ts
 * const browser = await launchBrowser();
 * const page = await browser.newPage();
 * await browser.close();
 * ```
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}
