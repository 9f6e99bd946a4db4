import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { root } from './processes.js';

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser tests keep their screenshots (ignored by git). */
export const artifactsDir = path.join(root, 'test/artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

/** A desktop-sized context; `dark` asks the pages for their dark colour scheme. */
export function desktop(browser: Browser, opts: { dark?: boolean } = {}): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: 1360, height: 860 },
    colorScheme: opts.dark ? 'dark' : 'light',
  });
}

/** A full-page PNG of the page under test/artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Signs in at /app/login with `key` as a person would, and waits for the dashboard. */
export async function signIn(page: Page, appUrl: string, key: string): Promise<void> {
  await page.goto(`${appUrl}/app/login`);
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(`${appUrl}/app`), page.click('button[type="submit"]')]);
}
