// Follows an approval webhook's signed approve link in headless Chromium
// (Debian's, through playwright-core; nothing is downloaded) for
// tests/approval_webhook.rs: the page must show the held call, and its form
// must approve it.
//
//   node tests/browser/webhook.mjs <approve-url>
//
// Environment: CHROMIUM (default /usr/bin/chromium), PLAYWRIGHT_CORE (the
// package directory), EXPECT_TEXT (must appear in the arguments shown),
// FORBID_TEXT (must appear nowhere on the page), APPROVER, REASON,
// SCREENSHOT (a PNG path). Exits 0 when every check passed; prints why not
// and exits 1 otherwise. Every wait has a timeout.
import { WAIT, check, inChromium } from "./chromium.mjs";

const [approveUrl] = process.argv.slice(2);
if (!approveUrl) {
  console.error("usage: webhook.mjs <approve-url>");
  process.exit(2);
}

// A CSP violation (a blocked form post, say) shows up as a console error. The
// spent link's 404 at the end comes after the last look at `problems`.
await inChromium("webhook.mjs", () => false, async (page, problems) => {
  const response = await page.goto(approveUrl, { waitUntil: "load", ...WAIT });
  check(response.status() === 200, `GET approve link: ${response.status()}`);
  const headers = response.headers();
  check((headers["content-security-policy"] || "").includes("default-src 'none'"), "no strict CSP on the page");
  check(headers["referrer-policy"] === "no-referrer", "no Referrer-Policy: no-referrer");
  check((await page.locator("#server").textContent()) === "demo", "server not shown");
  check((await page.locator("#tool").textContent()) === "send_message", "tool not shown");
  check((await page.locator("#rule").textContent()) === "mail-needs-approval", "rule not shown");
  const args = await page.locator("pre#arguments").textContent();
  const parsed = JSON.parse(args);
  check(args.includes("\n  "), "arguments are not pretty-printed");
  check(Object.values(parsed).includes("***"), `no masked value in ${args}`);
  if (process.env.EXPECT_TEXT) check(args.includes(process.env.EXPECT_TEXT), `arguments lack ${process.env.EXPECT_TEXT}`);
  if (process.env.FORBID_TEXT) {
    check(!(await page.content()).includes(process.env.FORBID_TEXT), "a secret value is on the page");
  }

  await page.fill("#approver", process.env.APPROVER || "browser");
  await page.fill("#reason", process.env.REASON || "approved in the browser");
  await page.selectOption("#scope", "once");
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  const [answered] = await Promise.all([
    page.waitForNavigation({ waitUntil: "load", ...WAIT }),
    page.click("#submit"),
  ]);
  check(answered && answered.status() === 200, `form post answered ${answered && answered.status()}`);
  const outcome = await page.locator("#outcome").textContent(WAIT);
  check(outcome.includes("Approved") && outcome.includes("send_message"), `outcome: ${outcome}`);

  check(problems.length === 0, problems.join("; "));

  // Reloading the link afterwards shows that it is spent (Chromium logs the 404).
  const again = await page.goto(approveUrl, { waitUntil: "load", ...WAIT });
  check(again.status() === 404, `the spent link answered ${again.status()}`);
  console.log("webhook.mjs: approve ok");
});
