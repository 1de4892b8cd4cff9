// Drives the approvals console in headless Chromium (Debian's, through
// playwright-core; nothing is downloaded) for tests/approval_console.rs.
//
//   node tests/browser/console.mjs <admin-url> <token> <approve|deny|anonymous>
//
// Environment: CHROMIUM (default /usr/bin/chromium), PLAYWRIGHT_CORE (the
// package directory), EXPECT_TEXT (must appear in the held call's
// arguments), FORBID_TEXT (must appear nowhere on the page), REASON,
// SCREENSHOT (a PNG path). Exits 0 when every check passed; prints why not
// and exits 1 otherwise. Every wait has a timeout.
import { WAIT, check, inChromium } from "./chromium.mjs";

const [adminUrl, token, action] = process.argv.slice(2);
if (!adminUrl || !token || !["approve", "deny", "anonymous"].includes(action)) {
  console.error("usage: console.mjs <admin-url> <token> <approve|deny|anonymous>");
  process.exit(2);
}

// Anonymous mode provokes 401s on purpose; nothing else may fail.
const tolerated = (text) => action === "anonymous" && text.includes("401");

await inChromium("console.mjs", tolerated, async (page, problems) => {
  const response = await page.goto(adminUrl, { waitUntil: "load", ...WAIT });
  check(response.status() === 200, `GET ${adminUrl}: ${response.status()}`);
  const headers = response.headers();
  check((headers["content-security-policy"] || "").includes("default-src 'self'"), "no CSP on the page");
  check(headers["x-frame-options"] === "DENY", "no X-Frame-Options: DENY");
  check(headers["referrer-policy"] === "no-referrer", "no Referrer-Policy: no-referrer");
  await page.locator("#login-form").waitFor({ state: "visible", ...WAIT });

  if (action === "anonymous") {
    // Without the token the page shows no data, and the API refuses it.
    check(await page.locator("#console").isHidden(), "the console is visible before logging in");
    check((await page.locator(".card").count()) === 0, "a pending call is shown before logging in");
    const status = await page.evaluate(async () => (await fetch("/admin/api/approvals")).status);
    check(status === 401, `the API answered ${status} without a token`);
    await page.fill("#token", "not-the-token-at-all");
    await page.click("#login-button");
    await page.locator("#login-error").filter({ hasText: "refused" }).waitFor(WAIT);
    check(await page.locator("#console").isHidden(), "a wrong token opened the console");
    if (process.env.FORBID_TEXT) {
      check(!(await page.content()).includes(process.env.FORBID_TEXT), "held data is on the anonymous page");
    }
  } else {
    await page.fill("#token", token);
    await page.fill("#approver", "erin");
    await page.click("#login-button");
    await page.locator("#console").waitFor({ state: "visible", ...WAIT });
    const card = page.locator(".card").first();
    await card.waitFor(WAIT);
    check((await card.locator(".server").textContent()) === "demo", "server not shown");
    check((await card.locator(".tool").textContent()) === "send_message", "tool not shown");
    const meta = await card.locator(".meta").textContent();
    check(meta.includes("warden-test-client") && meta.includes("expires at"), `client/expiry missing: ${meta}`);
    const args = await card.locator("pre.arguments").textContent();
    const parsed = JSON.parse(args);
    check(args.includes("\n  "), "arguments are not pretty-printed");
    if (process.env.EXPECT_TEXT) check(args.includes(process.env.EXPECT_TEXT), `arguments lack ${process.env.EXPECT_TEXT}: ${args}`);
    check(Object.values(parsed).includes("***"), `no masked value in ${args}`);
    if (process.env.FORBID_TEXT) {
      check(!(await page.content()).includes(process.env.FORBID_TEXT), "a secret value is on the page");
    }
    if (process.env.SCREENSHOT) {
      await card.locator("input.reason").fill("looks right");
      await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    }
    const reason = process.env.REASON || "checked in the console";
    if (action === "deny") {
      // Deny needs a reason: without one nothing is sent.
      await card.locator("input.reason").fill("");
      await card.locator("button.deny").click();
      await card.locator(".card-error").filter({ hasText: "reason is required" }).waitFor(WAIT);
      await card.locator("input.reason").fill(reason);
      await card.locator("button.deny").click();
    } else {
      await card.locator("input.reason").fill(reason);
      await card.locator("select.scope").selectOption("once");
      await card.locator("button.approve").click();
    }
    // The card goes and the decision shows up in the live list.
    await page.locator(".card").first().waitFor({ state: "detached", ...WAIT });
    const outcome = action === "approve" ? "approved" : "denied";
    const row = page.locator("#decisions tbody tr", { hasText: reason });
    await row.waitFor(WAIT);
    const text = await row.textContent();
    check(text.includes(outcome) && text.includes("console:erin"), `decision row: ${text}`);
  }
  check(problems.length === 0, problems.join("; "));
  console.log(`console.mjs: ${action} ok`);
});
