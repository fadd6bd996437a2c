// Browser test of the vsearch web page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
// It opens the page on the browse grid, filters it by folder, file date and format, opens a photo (viewer and
// similar images, the photo first; then filtered to its folder), pins two results (and sees "More like your
// board", the feed of GET /api/recommend, without them) and searches the board (one
// of them as a negative example), draws a box on a photo with the mouse and searches that region (and its next
// page), reloads the page from its URL and expects the same results, goes Back, uploads a photo, checks phone
// width (and a box drawn by touch), opens the duplicates view and the analytics dashboard (with $ADMIN_TOKEN), reports
// a photo and dismisses its case in the review view (local collections; the admin token is $VSEARCH_ADMIN_TOKEN),
// and fails on any JavaScript error, console error or failed request. Screenshots: SCREENSHOT.png (viewer and
// results), -browse.png, -board.png, -crop.png, -phone.png, -dashboard.png, -review.png.
// Usage: node scripts/browser_test.mjs BASE_URL PHOTO [SCREENSHOT.png]
//        node scripts/browser_test.mjs --labels BASE_URL [SCREENSHOT.png]
//        node scripts/browser_test.mjs --video BASE_URL [SCREENSHOT.png]
// --video checks a collection of a video (tests/fixtures/video/objects_2_3.webm, a frame every 2 s) and the two
// photos it was made from (ukbench00008.jpg, ukbench00012.jpg): the frame at 4 s shows its time on its card, is
// the first result like ukbench00012.jpg with the video's other frames listed, and opens a player that loads the
// video with Range requests and plays it from 4 s (videoTest below).
// --labels checks zero-shot labels on a collection whose policy hides every image (a `hide` label with threshold
// 0) and flags every image (a `flag` label named "tagged" with threshold 0): every thumbnail is blurred and
// badged, a first click reveals it without opening it, a second click opens it (labelsTest below).
// playwright-core is looked up in $PLAYWRIGHT_DIR/node_modules (scripts/browser_test.sh installs it under target/).
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const labelsMode = process.argv[2] === "--labels";
const videoMode = process.argv[2] === "--video";
const [base, photo, shot = labelsMode ? "target/browser-test-labels.png"
  : videoMode ? "target/browser-test-video.png" : "target/browser-test.png"] = labelsMode || videoMode
  ? [process.argv[3], null, process.argv[4]]
  : process.argv.slice(2);
if (!base || (!photo && !labelsMode && !videoMode)) {
  console.error("usage: node scripts/browser_test.mjs BASE_URL PHOTO [SCREENSHOT.png]\n" +
                "       node scripts/browser_test.mjs --labels BASE_URL [SCREENSHOT.png]");
  process.exit(2);
}
const require = createRequire(path.resolve(process.env.PLAYWRIGHT_DIR || "target/browser-test") + "/");
const { chromium } = require("playwright-core");
const shotFor = (suffix) => shot.replace(/\.png$/, `-${suffix}.png`);
const TIMEOUT = 30000;

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

  if (labelsMode) {
    await labelsTest(context);
    console.log("browser test (labels): PASS");
  } else if (videoMode) {
    await videoTest(context);
    console.log("browser test (video): PASS");
  } else {
    const page = await context.newPage();
    const pageErrors = [];
    const consoleErrors = [];
    const badResponses = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("response", (r) => { if (r.status() >= 400) badResponses.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
    page.on("requestfailed", (r) => badResponses.push(`failed ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    const apiJson = async (url) => (await page.request.get(new URL(url, base).href)).json();

    // 1. Open: the browse grid, in the server's order (newest first), thumbnails loaded lazily. The time from
    // the page's request to the last thumbnail in view is printed (a figure, not a test: over 200 phone
    // photos it measures the kept thumbnails of #29).
    const opened = Date.now();
    await page.goto(base, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    console.log("collection:", await page.textContent("#about"));
    const info = await apiJson("/api/collection");
    if ((await page.isVisible("#text-form")) !== info.text_search) {
      throw new Error(`text box visible = ${!info.text_search} but text_search = ${info.text_search}`);
    }
    const listing = await apiJson("/api/images?offset=0&limit=60");
    const total = listing.total;
    const grid = await waitForView(page, "browse", (cards) => cards.length === Math.min(total, 60));
    await waitForThumbnails(page);
    const inView = await page.$$eval("#results .result img", (imgs) =>
      imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
    console.log(`browse: page opened to ${inView} thumbnails loaded in ${Date.now() - opened} ms`);
    if (JSON.stringify(ids(grid)) !== JSON.stringify(listing.images.map((m) => m.id))) {
      throw new Error(`the grid is not in the server's order: ${ids(grid)} vs ${listing.images.map((m) => m.id)}`);
    }
    const lazy = await page.$$eval("#results .result img", (imgs) => imgs.every((i) => i.loading === "lazy" && i.alt));
    if (!lazy) throw new Error("grid thumbnails should load lazily and have alt text");
    console.log(`browse: ${grid.length} of ${total} photos, status: ${await page.textContent("#status")}`);
    await page.screenshot({ path: shotFor("browse"), fullPage: false });
    console.log("browse screenshot:", shotFor("browse"));

    // 2. Filter by folder: every card is in it and there are fewer; then clear the filter.
    const facets = await apiJson("/api/facets");
    const folders = facets.folders.filter((f) => f.count > 0 && f.count < total);
    if (folders.length < 2) throw new Error(`expected photos in at least two folders, facets: ${JSON.stringify(facets)}`);
    const folder = folders[0];
    await page.selectOption("#f-folder", `=${folder.value}`);
    const inFolder = await waitForView(page, "browse",
      (cards) => cards.length === Math.min(folder.count, 60) && cards.every((c) => c.folder === folder.value));
    for (const c of inFolder) {
      if ((c.path.includes("/") ? c.path.slice(0, c.path.lastIndexOf("/")) : "") !== folder.value) {
        throw new Error(`${c.path} is not in folder ${folder.value}`);
      }
    }
    if (!(inFolder.length < grid.length)) throw new Error(`the folder filter kept ${inFolder.length} of ${grid.length}`);
    if (new URL(page.url()).searchParams.get("folder") !== folder.value) throw new Error(`no folder in the URL: ${page.url()}`);
    await waitForThumbnails(page);
    console.log(`folder "${folder.value}": ${inFolder.length} photos, URL ${page.url()}`);
    await page.click("#f-clear");
    await waitForView(page, "browse", (cards) => cards.length === grid.length);
    if (new URL(page.url()).search !== "") throw new Error(`the URL still has a query after clearing: ${page.url()}`);
    console.log(`cleared: ${grid.length} photos again`);

    // Dates and formats: the copies' file dates are today's, so "file date from yesterday" keeps every photo and
    // "from tomorrow" none; a format keeps only its files.
    const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
    await page.selectOption("#f-date", "mtime");
    await page.fill("#f-from", day(-1));
    await waitForView(page, "browse", (cards) => cards.length === grid.length);
    const dated = new URL(page.url()).searchParams;
    if (dated.get("from") !== day(-1) || dated.get("date") !== "mtime") throw new Error(`no file date range in the URL: ${page.url()}`);
    await page.fill("#f-from", day(1));
    await waitForView(page, "browse", (cards) => cards.length === 0);
    console.log(`file date from ${day(-1)}: ${grid.length} photos; from ${day(1)}: none (${await page.textContent("#status")})`);
    await page.click("#f-clear");
    const format = facets.formats.find((f) => f.count > 0 && f.count < total);
    if (format) {
      await page.selectOption("#f-format", format.value);
      const formatted = await waitForView(page, "browse", (cards) => cards.length === Math.min(format.count, 60));
      const ext = { jpeg: /\.jpe?g$/i, png: /\.png$/i }[format.value] || /./;
      if (!formatted.every((c) => ext.test(c.path))) throw new Error(`format ${format.value} kept ${formatted.map((c) => c.path)}`);
      console.log(`format ${format.value}: ${formatted.length} photos`);
      await page.click("#f-clear");
    }
    await waitForView(page, "browse", (cards) => cards.length === grid.length);

    // 3. Click a photo: the viewer shows it large, with its similar images (the photo first, with scores).
    const photoId = grid[1].id;
    await page.click(`#results .result[data-id="${photoId}"] .open`);
    const similar = await waitForView(page, `id:${photoId}`, (cards) => cards.length > 1);
    await waitForThumbnails(page);
    await waitForViewer(page, photoId);
    if (similar[0].id !== photoId) throw new Error(`the viewed photo ${photoId} should rank first, got ${similar[0].id}`);
    const score = await page.textContent("#results .result .score");
    if (!/^#1 · -?\d+\.\d{3}$/.test(score)) throw new Error(`no score on the first result: ${score}`);
    if (new URL(page.url()).searchParams.get("id") !== String(photoId)) throw new Error(`no id in the URL: ${page.url()}`);
    await expectNoError(page);
    console.log(`photo ${photoId}: ${similar.length} similar, status: ${await page.textContent("#status")}`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log("screenshot:", shot);

    // Filters apply to searching too: the photo's own folder keeps it first and nothing from elsewhere. Exact
    // search (the flat index) answers, so the page holds the whole folder.
    {
      // On the default index (HNSW walks through the other folder's photos but returns only this one's).
      const own = grid[1].folder;
      const ownCount = facets.folders.find((f) => f.value === own).count;
      await page.selectOption("#f-folder", `=${own}`);
      const filtered = await waitForView(page, `id:${photoId}`,
        (cards) => cards.length === Math.min(20, ownCount) && cards.every((c) => c.folder === own));
      if (filtered[0].id !== photoId) throw new Error(`in folder ${own}, photo ${photoId} should rank first, got ${filtered[0].id}`);
      console.log(`photo ${photoId} in folder "${own}" (${info.default_index}): ${filtered.length} results, status: ${await page.textContent("#status")}`);
      await page.click("#f-clear");
      await waitForView(page, `id:${photoId}`, (cards) => cards.length === similar.length && !new URL(page.url()).searchParams.has("folder"));
    }
    if (info.indexes.some((i) => i.kind === "flat")) {
      const own = grid[1].folder;
      const ownCount = facets.folders.find((f) => f.value === own).count;
      await page.selectOption("#index", "flat");
      await waitForView(page, `id:${photoId}`, (cards) => cards.length > 1 && new URL(page.url()).searchParams.get("index") === "flat");
      await page.selectOption("#f-folder", `=${own}`);
      const filtered = await waitForView(page, `id:${photoId}`,
        (cards) => cards.length === Math.min(20, ownCount) && cards.every((c) => c.folder === own));
      if (filtered[0].id !== photoId) throw new Error(`in folder ${own}, photo ${photoId} should rank first, got ${filtered[0].id}`);
      if (!(await page.textContent("#status")).includes(`keeps ${ownCount} of ${total}`)) {
        throw new Error(`the status should report the filter: ${await page.textContent("#status")}`);
      }
      console.log(`photo ${photoId} in folder "${own}" (flat): ${filtered.length} results, status: ${await page.textContent("#status")}`);
      await page.click("#f-clear");
      await waitForView(page, `id:${photoId}`, (cards) => cards.length === similar.length && !new URL(page.url()).searchParams.has("folder"));
      await page.selectOption("#index", info.default_index);
      await waitForView(page, `id:${photoId}`, (cards) => cards.length === similar.length && !new URL(page.url()).searchParams.has("index"));
    }

    // 4. Pin two results, mark the second as a negative example, search the board.
    const [pinA, pinB] = [similar[1].id, similar[2].id];
    for (const id of [pinA, pinB]) await page.click(`#results .result[data-id="${id}"] .pin`);
    await page.waitForSelector("#board:not([hidden])");
    const pinned = await page.$$eval("#board-items .board-item", (items) => items.map((i) => (/^\d+$/.test(i.dataset.id) ? Number(i.dataset.id) : i.dataset.id)));
    if (JSON.stringify(pinned) !== JSON.stringify([pinA, pinB])) throw new Error(`board holds ${pinned}, expected ${[pinA, pinB]}`);
    if ((await page.getAttribute(`#results .result[data-id="${pinA}"] .pin`, "aria-pressed")) !== "true") {
      throw new Error("a pinned card's pin button should be pressed");
    }
    // "More like your board": a feed for the two pinned photos (GET /api/recommend), without them.
    {
      await page.waitForSelector('#recs[data-state="done"]', { timeout: 30_000 });
      const title = (await page.textContent("#recs-title")).trim();
      if (title !== "More like your board" || (await page.isHidden("#recs"))) throw new Error(`no "More like your board": ${title}`);
      const recs = await page.$$eval("#recs-items .rec", (items) => items.map((i) => (/^\d+$/.test(i.dataset.id) ? Number(i.dataset.id) : i.dataset.id)));
      if (recs.length === 0) throw new Error("the board's feed is empty");
      if (recs.includes(pinA) || recs.includes(pinB)) throw new Error(`the feed shows a pinned photo: ${recs}`);
      console.log(`More like your board (+${pinA} +${pinB}): ${recs.length} photos, first ${recs[0]}`);
    }
    await page.click(`#board-items .board-item[data-id="${pinB}"] .polarity`);
    await page.waitForSelector(`#board-items .board-item[data-id="${pinB}"][data-negative="true"]`);
    await page.click("#board-search");
    const boardResults = await waitForView(page, "board", (cards) => cards.length > 0);
    await waitForThumbnails(page);
    const board = JSON.parse(new URL(page.url()).searchParams.get("board") || "null");
    if (!board || board.positive.map((e) => e.id).join() !== String(pinA) || board.negative.map((e) => e.id).join() !== String(pinB)) {
      throw new Error(`the URL's board should be +${pinA} -${pinB}: ${page.url()}`);
    }
    if (boardResults[0].id === pinB) throw new Error(`the negative example ${pinB} ranks first`);
    if (!(await page.isHidden("#viewer"))) throw new Error("the viewer should close for a board search");
    await expectNoError(page);
    console.log(`board +${pinA} -${pinB}: ${boardResults.length} results, first ${boardResults[0].id}, status: ${await page.textContent("#status")}`);
    await page.screenshot({ path: shotFor("board"), fullPage: false });
    console.log("board screenshot:", shotFor("board"));

    // 5. Open a result, draw a box on it with the mouse, search the region, then its next page.
    const cropId = boardResults[0].id;
    await page.click(`#results .result[data-id="${cropId}"] .open`);
    await waitForView(page, `id:${cropId}`, (cards) => cards.length > 0);
    await waitForViewer(page, cropId);
    await page.locator("#viewer-img").scrollIntoViewIfNeeded();
    const box = await page.locator("#viewer-img").boundingBox();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.25);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.75, { steps: 5 });
    await page.mouse.up();
    await page.waitForSelector("#crop-box:not([hidden])");
    if (await page.isDisabled("#crop-search")) throw new Error("Search this region is disabled after drawing a box");
    await page.click("#crop-search");
    let cropped = await waitForView(page, `crop:${cropId}`, (cards) => cards.length > 0);
    const crop = (new URL(page.url()).searchParams.get("crop") || "").split(",").map(Number);
    const expected = [0.2, 0.25, 0.5, 0.5];
    if (crop.length !== 4 || crop.some((v, i) => Math.abs(v - expected[i]) > 0.02)) {
      throw new Error(`the URL's crop should be about ${expected}: ${page.url()}`);
    }
    await page.locator("#viewer").scrollIntoViewIfNeeded();
    await page.screenshot({ path: shotFor("crop"), fullPage: false });
    console.log("crop screenshot:", shotFor("crop"));
    if (await page.isVisible("#more")) {
      await page.click("#more");
      cropped = await waitForView(page, `crop:${cropId}`, (cards) => cards.length > cropped.length);
      if (new URL(page.url()).searchParams.get("page") !== "2") throw new Error(`no page=2 in the URL: ${page.url()}`);
    }
    await expectNoError(page);
    console.log(`region ${crop} of ${cropId}: ${cropped.length} results, status: ${await page.textContent("#status")}`);

    // 6. Reload from the URL: the same results in the same order, the box drawn again; Back goes to the photo.
    const url = page.url();
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    const reloaded = await waitForView(page, `crop:${cropId}`, (cards) => cards.length > 0);
    if (page.url() !== url) throw new Error(`the URL changed on reload: ${url} → ${page.url()}`);
    if (JSON.stringify(ids(reloaded)) !== JSON.stringify(ids(cropped))) {
      throw new Error(`after a reload: ${ids(reloaded)}, before: ${ids(cropped)}`);
    }
    if (await page.isHidden("#crop-box")) throw new Error("the crop box is not drawn after a reload");
    console.log(`reload: the same ${reloaded.length} results in the same order`);
    await page.goBack();
    await waitForView(page, `id:${cropId}`, (cards) => cards.length > 0 && cards[0].id === cropId);
    console.log(`back: photo ${cropId} again`);

    // 7. Upload a photo: results led by that photo.
    await page.setInputFiles("#file", photo);
    const uploaded = await waitForView(page, "upload", (cards) => cards.length > 1);
    await waitForThumbnails(page);
    if (!uploaded[0].path.endsWith(path.basename(photo))) {
      throw new Error(`the uploaded photo ${path.basename(photo)} should rank first, got ${uploaded[0].path}`);
    }
    if (await page.isVisible("#viewer")) throw new Error("the viewer should close for an upload");
    await expectNoError(page);
    console.log(`upload: ${uploaded.length} results, status: ${await page.textContent("#status")}`);

    // 8. Text search, when the model has a text tower.
    if (info.text_search) {
      await page.fill("#text", "a photo");
      await page.click("#text-form button[type=submit]");
      const texts = await waitForView(page, "text", (cards) => cards.length > 0);
      if (new URL(page.url()).searchParams.get("text") !== "a photo") throw new Error(`no text in the URL: ${page.url()}`);
      console.log(`text: ${texts.length} results`);
    }

    // 9. Phone width: nothing wider than the screen, on the results and in the viewer.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await expectNoOverflow(page, "results");
    await page.click(`#results .result[data-id="${uploaded[1].id}"] .open`);
    await waitForView(page, `id:${uploaded[1].id}`, (cards) => cards.length > 0);
    await waitForViewer(page, uploaded[1].id);
    await expectNoOverflow(page, "viewer");
    // A finger draws a box too (touch events, as a phone sends them).
    await page.locator("#viewer-img").scrollIntoViewIfNeeded();
    const photoBox = await page.locator("#viewer-img").boundingBox();
    const cdp = await context.newCDPSession(page);
    const touch = (type, fx, fy) => cdp.send("Input.dispatchTouchEvent", {
      type, touchPoints: type === "touchEnd" ? [] : [{ x: photoBox.x + photoBox.width * fx, y: photoBox.y + photoBox.height * fy }],
    });
    await touch("touchStart", 0.1, 0.1);
    for (const f of [0.2, 0.3, 0.4, 0.5]) await touch("touchMove", f, f);
    await touch("touchEnd");
    await page.waitForSelector("#crop-box:not([hidden])");
    if (await page.isDisabled("#crop-search")) throw new Error("a box drawn by touch does not enable Search this region");
    console.log("phone: a box drawn by touch");
    const phoneShot = shotFor("phone");
    await page.screenshot({ path: phoneShot, fullPage: false });
    console.log("phone screenshot:", phoneShot);
    await page.click("#viewer-close");
    await waitForView(page, "browse", (cards) => cards.length === grid.length);
    await expectNoOverflow(page, "browse");

    // Duplicates: the header link shows the groups of copies (sample_images has none: "No duplicates"), then Back.
    // A Qdrant collection served with --root DIR has the view too (found through Qdrant, verified on the pixels).
    if (info.qdrant) console.log(`Qdrant collection ${info.qdrant.collection}: ${info.qdrant.points} points, status ${info.qdrant.status}`);
    if (!info.duplicates) {
      if (await page.isVisible("#dupes-link")) throw new Error("the duplicates link should be hidden without the images' pixels");
      console.log("no duplicates link (a Qdrant collection served without --root)");
    } else {
      await page.click("#dupes-link");
      const dupes = await waitForView(page, "dupes", () => true);
      await expectNoError(page);
      await expectNoOverflow(page, "duplicates");
      console.log(`duplicates: ${dupes.length} photos in groups: ${await page.textContent("#status")}`);
      await page.goBack();
      await waitForView(page, "browse", (cards) => cards.length === grid.length);
    }

    // 10. The analytics dashboard (behind the admin token, $ADMIN_TOKEN; the stand-in server records none): the
    // searches this test made, plotted as SVG, the same count the API gives, the result opened from a search counted.
    const adminToken = process.env.ADMIN_TOKEN || "";
    if (adminToken) {
      await page.click("#analytics-link");
      await page.waitForSelector("#dashboard[data-state=token]", { timeout: TIMEOUT });
      await page.fill("#dash-token", adminToken);
      await page.click("#dash-form button[type=submit]");
      await page.waitForSelector("#dashboard[data-state=done]", { timeout: TIMEOUT });
      const report = await (await page.request.get(new URL("/api/analytics?days=7", base).href,
        { headers: { Authorization: `Bearer ${adminToken}` } })).json();
      const shown = Number(await page.getAttribute("#dashboard", "data-searches"));
      if (!(report.searches > 0 && shown === report.searches)) {
        throw new Error(`the dashboard shows ${shown} searches, the API ${report.searches}`);
      }
      if (report.opens < 1) throw new Error(`the results opened from searches were not counted: ${JSON.stringify(report)}`);
      const plots = await page.$$eval("#dash-plots figure svg", (svgs) => svgs.length);
      const marks = await page.$$eval("#dash-plots svg rect.bar, #dash-plots svg circle", (n) => n.length);
      if (plots !== 4 || marks === 0) throw new Error(`expected 4 plots with bars and points, got ${plots} plots, ${marks} marks`);
      await expectNoError(page);
      await page.screenshot({ path: shotFor("dashboard"), fullPage: true });
      console.log(`dashboard: ${report.searches} searches, ${(report.zero_result_rate * 100).toFixed(1)}% without result, ` +
        `CTR ${report.click_through_rate.toFixed(3)}, MRR ${report.mrr.toFixed(3)}; ${plots} plots; screenshot ${shotFor("dashboard")}`);
      await page.goBack();
      await waitForView(page, "browse", (cards) => cards.length === grid.length);
    }
    // Reports (local collections: hiding pending review goes through blocks): report a photo from the viewer,
    // then dismiss its case in the review view with the server's admin token ($VSEARCH_ADMIN_TOKEN).
    if (!info.qdrant) {
      const token = process.env.VSEARCH_ADMIN_TOKEN;
      if (!token) throw new Error("VSEARCH_ADMIN_TOKEN is not set: the review view needs the server's admin token");
      const reported = grid[grid.length - 1].id;
      await page.goto(new URL(`/?id=${reported}`, base).href, { waitUntil: "load" });
      await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
      await waitForViewer(page, reported);
      await page.click("#viewer-report");
      await page.waitForFunction(() => !document.querySelector("#report-form").hidden &&
        document.querySelectorAll("#report-reason option").length > 0, null, { timeout: TIMEOUT });
      await page.selectOption("#report-reason", "spam");
      await page.fill("#report-note", "browser test report");
      await page.click("#report-form button[type=submit]");
      await page.waitForSelector("#report-status:not([hidden])", { timeout: TIMEOUT });
      const said = await page.textContent("#report-status");
      if (!said.startsWith("Reported")) throw new Error(`the report answered: ${said}`);
      await expectNoError(page);
      await page.click("#review-link");
      await page.waitForSelector("#review:not([hidden])", { timeout: TIMEOUT });
      await page.fill("#review-token", token);
      await page.click("#review-load");
      const item = `#review-cases .case[data-image="${reported}"]`;
      await page.waitForSelector(item, { timeout: TIMEOUT });
      const text = await page.textContent(item);
      if (!text.includes("spam × 1") || !text.includes("browser test report")) throw new Error(`the case reads: ${text}`);
      const reviewShot = shotFor("review");
      await page.screenshot({ path: reviewShot, fullPage: false });
      console.log(`review: photo ${reported} reported, its case listed (screenshot ${reviewShot})`);
      await page.fill(`${item} .dismiss-reason`, "browser test: not spam");
      await page.click(`${item} .dismiss`);
      await page.waitForSelector(item, { state: "detached", timeout: TIMEOUT });
      await page.waitForFunction(() => document.querySelector("#review-status").textContent === "No open cases.", null, { timeout: TIMEOUT });
      await expectNoError(page);
      const cases = await (await page.request.get(new URL("/api/reports?status=dismissed", base).href, {
        headers: { Authorization: `Bearer ${token}` },
      })).json();
      if (cases.cases.length !== 1 || cases.cases[0].close_reason !== "browser test: not spam") {
        throw new Error(`the dismissed case: ${JSON.stringify(cases)}`);
      }
      console.log("review: case dismissed from the review view");
    }

    if (pageErrors.length) throw new Error(`JavaScript errors: ${pageErrors.join("; ")}`);
    if (consoleErrors.length) throw new Error(`console errors: ${consoleErrors.join("; ")}`);
    if (badResponses.length) throw new Error(`failed requests: ${badResponses.join("; ")}`);
    console.log("browser test: PASS");
  }
} catch (err) {
  failed = true;
  console.error("browser test: FAIL:", err.message);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

// Zero-shot labels on the page: every image is hidden and flagged by the test policy.
async function videoTest(context) {
  const page = await context.newPage();
  const problems = [];
  const ranges = [];
  page.on("pageerror", (e) => problems.push(`JavaScript error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    if (r.status() === 206) ranges.push(r.url());
  });
  const listing = await (await page.request.get(new URL("/api/images?limit=100", base).href)).json();
  const frame = listing.images.find((m) => m.video && m.path.endsWith(".webm#t=4"));
  const still = listing.images.find((m) => m.path.endsWith("ukbench00012.jpg"));
  if (!frame || !still || frame.video.seconds !== 4) {
    throw new Error(`expected the WebM's frame at 4 s and ukbench00012.jpg: ${JSON.stringify(listing.images.map((m) => m.path))}`);
  }
  // The grid: the frame's card shows its time.
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  const card = (id) => page.locator(`#results .result[data-id="${id}"]`);
  await card(frame.id).locator(".video-time").waitFor({ timeout: TIMEOUT });
  const time = await card(frame.id).locator(".video-time").textContent();
  if (time !== "▶ 0:04") throw new Error(`the frame's card shows "${time}", not "▶ 0:04"`);
  console.log(`video: the frame ${frame.path} shows "${time}" on its card`);
  // The photo the video shows from 3 s: the first result like it (after itself) is the frame at 4 s, the
  // video's other frames listed on its card.
  await card(still.id).locator(".open").click();
  await card(frame.id).locator(".frames").waitFor({ timeout: TIMEOUT });
  const listed = await card(frame.id).locator(".frames").textContent();
  if (listed !== "also at 0:00, 0:02") throw new Error(`the frame's card lists "${listed}"`);
  const order = await page.$$eval("#results .result", (cs) => cs.map((c) => c.dataset.path));
  if (order[0] !== still.path || order[1] !== frame.path) throw new Error(`results like ${still.path}: ${order}`);
  console.log(`video: like ${still.path}: ${order.slice(0, 3).join(", ")}; the frame's card lists "${listed}"`);
  // Opening the frame plays its video from 4 s (the server answers the player's Range requests).
  await card(frame.id).locator(".open").click();
  await page.waitForSelector("#viewer-video:not([hidden])", { timeout: TIMEOUT });
  await page.waitForFunction(() => {
    const v = document.querySelector("#viewer-video");
    return v.readyState >= 1 && Math.abs(v.currentTime - 4) < 0.05;
  }, null, { timeout: TIMEOUT });
  await page.evaluate(() => { const v = document.querySelector("#viewer-video"); v.muted = true; return v.play(); });
  await page.waitForFunction(() => document.querySelector("#viewer-video").currentTime > 4.2, null, { timeout: TIMEOUT });
  const at = await page.evaluate(() => document.querySelector("#viewer-video").currentTime);
  if (!ranges.some((u) => u.includes(`/api/images/${frame.id}`))) throw new Error(`no 206 answer for the video: ${ranges}`);
  console.log(`video: the viewer plays ${frame.video.path} from 4 s (at ${at.toFixed(2)} s now; ${ranges.length} Range answers)`);
  await page.screenshot({ path: shot, fullPage: false });
  console.log("video screenshot:", shot);
  if (problems.length) throw new Error(problems.join("\n"));
  await page.close();
}

async function labelsTest(context) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`JavaScript error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  const listing = await (await page.request.get(new URL("/api/images?limit=1000", base).href)).json();
  if (!listing.images.length || !listing.images.every((m) => m.hidden.length && m.flags.includes("tagged") &&
      Object.values(m.labels).every((v) => v >= 0 && v <= 1))) {
    throw new Error(`every image should be hidden and flagged, with scores in [0, 1]: ${JSON.stringify(listing.images[0])}`);
  }
  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  await page.waitForSelector("#results .result", { timeout: TIMEOUT });
  const cards = await page.$$eval("#results .result", (cs) => cs.map((c) => ({
    id: /^\d+$/.test(c.dataset.id) ? Number(c.dataset.id) : c.dataset.id,
    veiled: c.classList.contains("veiled"),
    filter: getComputedStyle(c.querySelector("img")).filter,
    badges: [...c.querySelectorAll(".badge")].map((b) => b.textContent),
  })));
  const bad = cards.filter((c) => !c.veiled || !c.filter.includes("blur") || !c.badges.includes("tagged"));
  if (bad.length) throw new Error(`thumbnails not blurred and badged: ${JSON.stringify(bad.slice(0, 3))}`);
  console.log(`labels: ${cards.length} thumbnails blurred, each with the badge "tagged"`);
  await page.screenshot({ path: shot, fullPage: false });
  console.log("labels screenshot:", shot);
  // A first click reveals (no blur, the viewer stays closed); a second opens the photo.
  const first = page.locator("#results .result").first();
  await first.locator(".open").click();
  await page.waitForFunction(() => {
    const c = document.querySelector("#results .result");
    return !c.classList.contains("veiled") && getComputedStyle(c.querySelector("img")).filter === "none";
  }, null, { timeout: TIMEOUT });
  if (!(await page.isHidden("#viewer"))) throw new Error("the first click on a hidden thumbnail opened it");
  const others = await page.$$eval("#results .result.veiled", (cs) => cs.length);
  if (others !== cards.length - 1) throw new Error(`revealing one thumbnail revealed ${cards.length - others}`);
  console.log("labels: the first click revealed the thumbnail, the others stay blurred");
  await first.locator(".open").click();
  await waitForViewer(page, cards[0].id);
  console.log("labels: the second click opened the photo");
  if (problems.length) throw new Error(problems.join("; "));
  await page.close();
}

function ids(cards) {
  return cards.map((c) => c.id);
}

// Waits until #results shows the finished query `label` and its cards pass `ok`; returns the cards.
async function waitForView(page, label, ok) {
  let cards = [];
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const seen = await page.evaluate(() => {
      const results = document.querySelector("#results");
      return {
        query: results.dataset.query,
        state: results.dataset.state,
        error: document.querySelector("#error").hidden ? "" : document.querySelector("#error").textContent,
        cards: [...results.querySelectorAll(".result")].map((c) => ({
          id: /^\d+$/.test(c.dataset.id) ? Number(c.dataset.id) : c.dataset.id, path: c.dataset.path, folder: c.dataset.folder,
        })),
      };
    });
    cards = seen.cards;
    if (seen.query === label && seen.state === "done" && ok(cards)) return cards;
    if (seen.error) throw new Error(`waiting for ${label}: the page shows an error: ${seen.error}`);
    if (Date.now() > deadline) {
      throw new Error(`waiting for ${label}: #results shows ${seen.query} (${seen.state}) with ${cards.length} cards: ` +
        cards.slice(0, 8).map((c) => c.path).join(", "));
    }
    await page.waitForTimeout(100);
  }
}

// The thumbnails in view have loaded (the others load lazily, when scrolled to).
async function waitForThumbnails(page) {
  await page.waitForFunction(() => {
    const inView = [...document.querySelectorAll("#results .result img")].filter((img) => {
      const r = img.getBoundingClientRect();
      return r.bottom > 0 && r.top < window.innerHeight && r.width > 0;
    });
    return inView.length > 0 && inView.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: TIMEOUT });
}

async function waitForViewer(page, id) {
  await page.waitForSelector("#viewer:not([hidden])");
  await page.waitForFunction((id) => {
    const img = document.querySelector("#viewer-img");
    return img.src.includes(`/api/images/${id}`) && img.complete && img.naturalWidth > 0 &&
      document.querySelector("#viewer-meta dd") !== null;
  }, id, { timeout: TIMEOUT });
}

async function expectNoError(page) {
  if (!(await page.isHidden("#error"))) throw new Error(`error shown: ${await page.textContent("#error")}`);
}

async function expectNoOverflow(page, where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) throw new Error(`${where}: the page is ${overflow}px wider than a 390px screen`);
}
