import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { PROJECT_ROOT } from '../../../lib/config/stage-config';
import { scratchDir } from '../../support/scratch';

/** Where the browser tests keep their screenshots (ignored by git, kept after the run). */
export const ARTIFACTS_DIR = path.join(PROJECT_ROOT, '.local', 'artifacts', 'console');

/** The Chromium the browser tests drive: Debian's, or `$CHROMIUM_PATH`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium with a fresh profile. The flags keep it off the network (this machine's closed
 * network refuses Chromium's background connections) and out of the sandbox (containers). Fails,
 * never skips, when Chromium is missing: the console is only tested in a real browser.
 */
export async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the console's browser tests need it. Install it with ` +
        '`apt-get install -y chromium` (.ci/run does), or point CHROMIUM_PATH at a Chromium binary.',
    );
  }
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return chromium.launchPersistentContext(scratchDir('chromium-profile-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
