import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { root } from './processes.js';
import { waitFor } from './wait.js';

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

/**
 * Waits until every visible iframe (email previews) has loaded and laid out at its element's
 * width: a picture taken sooner showed the previews blank or squeezed to a 60 px column.
 */
async function framesLaidOut(page: Page): Promise<void> {
  const frames = page.locator('iframe');
  for (let i = 0; i < (await frames.count()); i++) {
    const el = frames.nth(i);
    if (!(await el.isVisible())) continue;
    const frame = await (await el.elementHandle())?.contentFrame();
    const box = await el.boundingBox();
    if (!frame || !box) continue;
    await frame.waitForLoadState('load');
    await waitFor(
      async () => Number(await frame.evaluate('document.documentElement.clientWidth')) >= box.width - 40,
      { timeout: 10_000, what: `iframe ${i} laid out at its width` },
    );
  }
}

/** A full-page PNG of the page under test/artifacts/<name>.png, once its previews have laid out. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  await framesLaidOut(page);
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Signs in at /app/login with `key` as a person would, and waits for the dashboard. */
export async function signIn(page: Page, appUrl: string, key: string): Promise<void> {
  await page.goto(`${appUrl}/app/login`);
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(`${appUrl}/app`), page.click('button[type="submit"]')]);
}
