// What the browser scripts share: headless Debian Chromium driven by
// playwright-core (nothing is downloaded), a throwaway profile, a watchdog,
// and the rule that a script exits 0 only when every check passed.
//
// Environment: CHROMIUM (default /usr/bin/chromium), PLAYWRIGHT_CORE (the
// package directory).
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

/** Every wait in a script has this timeout. */
export const WAIT = { timeout: 15000 };

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Runs `body(page, problems)` in a fresh headless Chromium. `problems`
 * collects page errors and console errors (except those `tolerated(text)`
 * accepts). Any exception, or a watchdog after 60 s, fails the script
 * with a message prefixed by `name`.
 */
export async function inChromium(name, tolerated, body) {
  const profile = mkdtempSync(join(tmpdir(), `warden-${name}-`));
  let context;
  const watchdog = setTimeout(() => {
    console.error(`${name}: gave up after 60s`);
    process.exit(1);
  }, 60000);
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      timeout: 30000,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
      ],
    });
    const page = context.pages()[0] || (await context.newPage());
    const problems = [];
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !tolerated(m.text())) problems.push("console error: " + m.text());
    });
    await body(page, problems);
  } catch (e) {
    console.error(`${name}: ` + (e && e.stack ? e.stack : e));
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}
