// Browser test of the vsearch web page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// upload a photo, see result thumbnails appear, click one, see a new result set; check the page at phone width;
// save screenshots. Usage: node scripts/browser_test.mjs BASE_URL PHOTO [SCREENSHOT.png]
// playwright-core is looked up in $PLAYWRIGHT_DIR/node_modules (scripts/browser_test.sh installs it under target/).
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, photo, shot = "target/browser-test.png"] = process.argv.slice(2);
if (!base || !photo) {
  console.error("usage: node scripts/browser_test.mjs BASE_URL PHOTO [SCREENSHOT.png]");
  process.exit(2);
}
const require = createRequire(path.resolve(process.env.PLAYWRIGHT_DIR || "target/browser-test") + "/");
const { chromium } = require("playwright-core");

// The flags CI needs (closed network, no GPU, no sandbox in containers); the profile is a fresh temporary folder,
// removed at the end.
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "vsearch-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: flags,
  viewport: { width: 1280, height: 900 },
});
let failed = false;
try {
  // The flags Chromium actually runs with, as it reports them.
  const about = await context.newPage();
  await about.goto("chrome://version");
  const commandLine = await about.textContent("#command_line");
  await about.close();
  const missing = [...flags, `--user-data-dir=${profile}`].filter((f) => !commandLine.includes(f));
  if (missing.length) throw new Error(`Chromium runs without ${missing.join(" ")}: ${commandLine}`);
  console.log(`chromium runs headless with ${flags.slice(1).join(" ")} and a fresh profile ${profile}`);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  console.log("collection:", await page.textContent("#about"));
  const info = await (await page.request.get(new URL("/api/collection", base).href)).json();
  if ((await page.isVisible("#text-form")) !== info.text_search) {
    throw new Error(`text box visible = ${!info.text_search} but text_search = ${info.text_search}`);
  }

  // 1. Upload a photo: thumbnails appear.
  await page.setInputFiles("#file", photo);
  await page.waitForSelector('#results[data-query="upload"] .result', { timeout: 30000 });
  await waitForThumbnails(page);
  const first = await page.$$eval("#results .result", (cards) => cards.map((c) => Number(c.dataset.id)));
  console.log(`upload: ${first.length} results, status: ${await page.textContent("#status")}`);
  if (first.length < 2) throw new Error("expected at least 2 results after the upload");

  // 2. Click a result (not the best one, which is the photo itself): a new result set, led by that image.
  const clicked = first[1];
  await page.click(`#results .result[data-id="${clicked}"]`);
  await page.waitForSelector(`#results[data-query="id:${clicked}"] .result`, { timeout: 30000 });
  await waitForThumbnails(page);
  const second = await page.$$eval("#results .result", (cards) => cards.map((c) => Number(c.dataset.id)));
  console.log(`click on ${clicked}: ${second.length} results, status: ${await page.textContent("#status")}`);
  if (second[0] !== clicked) throw new Error(`the clicked image ${clicked} should rank first, got ${second[0]}`);
  if (JSON.stringify(first) === JSON.stringify(second)) throw new Error("the result set did not change");
  if (!(await page.isHidden("#error"))) throw new Error(`error shown: ${await page.textContent("#error")}`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log("screenshot:", shot);

  // 3. Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) throw new Error(`page is ${overflow}px wider than a 390px screen`);
  const phoneShot = shot.replace(/\.png$/, "-phone.png");
  await page.screenshot({ path: phoneShot, fullPage: false });
  console.log("phone screenshot:", phoneShot);
  if (pageErrors.length) throw new Error(`JavaScript errors: ${pageErrors.join("; ")}`);
  console.log("browser test: PASS");
} catch (err) {
  failed = true;
  console.error("browser test: FAIL:", err.message);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

async function waitForThumbnails(page) {
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll("#results .result img")];
    return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: 30000 });
}
