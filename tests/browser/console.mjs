// Drives Debian's chromium through the idpool admin console with playwright-core.
//
// Input: one JSON argument {baseUrl, user, password, poolName, poolId, search, identityId,
// guestId, screenshots}. Output: one JSON line on stdout with the text and URL of each page
// visited and the screenshot paths, which the pytest side checks. Any failed step exits 1
// with the error on stderr.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const input = JSON.parse(process.argv[2]);
const profile = mkdtempSync(join(tmpdir(), "idpool-chromium-"));
const pages = {};
const shots = [];

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function record(page, name) {
  const path = join(input.screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
  pages[name] = { url: page.url(), text: await page.locator("body").innerText() };
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10000);

  // Not logged in: the console answers with its sign-in form.
  const first = await page.goto(`${input.baseUrl}/console/pools`);
  pages.unauthenticated = { status: first.status() };
  await record(page, "login");

  await page.fill("input[name=username]", input.user);
  await page.fill("input[name=password]", input.password);
  await Promise.all([page.waitForURL("**/console/pools"), page.click("button[type=submit]")]);
  await record(page, "pools");

  await page.click(`a:text-is(${JSON.stringify(input.poolName)})`);
  await page.waitForSelector("h2:text('Roles')");
  await record(page, "pool");

  // The activity charts of the pool, last hour: the section alone, for the pixel check.
  await page.click("#activity .windows a:text('last hour')");
  await page.waitForURL(/window=hour/);
  const activity = page.locator("#activity");
  const chartsShot = join(input.screenshots, "charts.png");
  await activity.screenshot({ path: chartsShot });
  shots.push(chartsShot);
  pages.charts = {
    url: page.url(),
    text: await activity.innerText(),
    svgs: await page.$$eval("svg[data-chart]", (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return {
          chart: svg.dataset.chart,
          width: box.width,
          height: box.height,
          bars: svg.querySelectorAll("rect.bar").length,
        };
      }),
    ),
  };

  await page.click("nav.tabs a:text('Identities')");
  await page.fill("input[name=q]", input.search);
  await Promise.all([page.waitForURL(/[?&]q=/), page.click("form.search button")]);
  await record(page, "search");

  await page.click(`a:text-is(${JSON.stringify(input.identityId)})`);
  await page.waitForSelector("h2:text('Logins and developer user ids')");
  await record(page, "identity");

  // A destructive action asks first; confirming deletes and comes back with a notice.
  await page.goto(
    `${input.baseUrl}/console/pools/${encodeURIComponent(input.poolId)}/identities/` +
      `${encodeURIComponent(input.guestId)}`,
  );
  await page.click("a:text('Delete identity…')");
  await page.waitForSelector("form.confirm");
  await record(page, "confirm");
  await Promise.all([page.waitForURL(/notice=deleted/), page.click("form.confirm button")]);
  await record(page, "deleted");

  await page.click("header nav a:text('Signing keys')");
  await page.waitForSelector("table.grid");
  await record(page, "keys");

  process.stdout.write(`${JSON.stringify({ pages, screenshots: shots })}\n`);
} catch (error) {
  process.stderr.write(`${error.stack || error}\n`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
