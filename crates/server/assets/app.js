// vsearch web page: plain JavaScript over the JSON API. It browses the collection (/api/images, /api/facets),
// filters it, opens a photo with its similar images (and a region of it), builds board queries from pinned
// photos and texts, and searches by upload or text (/api/search). The query lives in the URL, so a link or
// a reload shows the same results.
"use strict";

const $ = (id) => document.getElementById(id);
// Image ids: numbers in local collections, UUID strings in Qdrant collections; kept as the API writes them.
const parseId = (text) => (/^\d+$/.test(text) ? Number(text) : text);
const isId = (v) => (Number.isInteger(v) && v >= 0) || (typeof v === "string" && /^[0-9a-f-]{36}$/i.test(v));
const els = {
  about: $("about"), drop: $("drop"), file: $("file"), preview: $("preview"), dropText: $("drop-text"),
  textForm: $("text-form"), text: $("text"), textPin: $("text-pin"), index: $("index"), k: $("k"),
  filters: $("filters"), folder: $("f-folder"), prefix: $("f-prefix"), date: $("f-date"), from: $("f-from"),
  to: $("f-to"), format: $("f-format"), clear: $("f-clear"),
  viewer: $("viewer"), cropArea: $("crop-area"), viewerImg: $("viewer-img"), cropBox: $("crop-box"),
  viewerVideo: $("viewer-video"),
  viewerTitle: $("viewer-title"), viewerMeta: $("viewer-meta"), viewerPin: $("viewer-pin"),
  cropSearch: $("crop-search"), cropPin: $("crop-pin"), cropClear: $("crop-clear"),
  viewerOriginal: $("viewer-original"), viewerClose: $("viewer-close"),
  status: $("status"), error: $("error"), results: $("results"), more: $("more"),
  board: $("board"), boardCount: $("board-count"), boardItems: $("board-items"),
  boardSearch: $("board-search"), boardClear: $("board-clear"), dupesLink: $("dupes-link"),
  analyticsLink: $("analytics-link"), dashboard: $("dashboard"), dashForm: $("dash-form"), dashToken: $("dash-token"),
  dashDays: $("dash-days"), dashSummary: $("dash-summary"), dashPlots: $("dash-plots"),
  query: $("query"), moreRow: document.querySelector(".more-row"),
  recs: $("recs"), recsItems: $("recs-items"),
};

const DEFAULT_K = 20;
const BROWSE_LIMIT = 60;
const MIN_CROP = 0.02; // a box smaller than this share of a side is a click, not a crop
const BOARD_KEY = "vsearch.board";
const TOKEN_KEY = "vsearch.adminToken"; // the admin token, for this tab only (sessionStorage)

const state = {
  info: null,
  view: null, // what is shown: {kind: browse|id|text|board|upload, filters, page, k, index, ...}
  ticket: 0, // answers to older views are ignored
  loaded: 0, // cards shown
  total: null, // browse: images matching the filter
  more: false,
  loading: false,
  board: [], // pinned examples: {id, crop} or {text}, with weight and negative
  uploads: new Map(), // upload key → File, for Back/Forward to an upload
  uploadSeq: 0,
  viewerId: null,
  crop: null, // the box drawn on the viewed photo, fractions {x, y, w, h}
};
let previewUrl = null;

// ---------- small helpers ----------

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
}

async function api(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new Error(`The server did not answer: ${err.message}`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON
  }
  if (!response.ok) throw new Error(body && body.error ? body.error : `Error ${response.status}`);
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && !key.includes("-")) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

const thumbUrl = (id) => `/api/images/${id}/thumbnail`;
const folderOf = (path) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
const round4 = (v) => Math.round(v * 10000) / 10000;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

function validDate(s) {
  return s && /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : "";
}

function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function parseCrop(s) {
  if (!s) return null;
  const parts = s.split(",").map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) return null;
  const [x, y, w, h] = parts;
  if (w <= 0 || h <= 0 || x + w > 1.0001 || y + h > 1.0001) return null;
  const crop = normCrop({ x, y, w, h });
  return crop.w > 0 && crop.h > 0 ? crop : null;
}

// A crop rounded to 4 decimals, still inside the image (x + w <= 1, y + h <= 1), as the server requires.
function normCrop(c) {
  const x = round4(clamp01(c.x));
  const y = round4(clamp01(c.y));
  return { x, y, w: Math.min(round4(c.w), round4(1 - x)), h: Math.min(round4(c.h), round4(1 - y)) };
}

const cropText = (c) => {
  const n = normCrop(c);
  return [n.x, n.y, n.w, n.h].join(",");
};

// ---------- filters ----------

function emptyFilters() {
  return { folder: null, prefix: "", date: "taken", from: "", to: "", format: "" };
}

// The filter in Qdrant's grammar, or null when nothing is filtered.
function filterJson(f) {
  const must = [];
  if (f.folder !== null) must.push({ key: "folder", match: { value: f.folder } });
  if (f.prefix) must.push({ key: "path", match: { prefix: f.prefix } });
  const range = {};
  if (f.from) range.gte = `${f.from}T00:00:00Z`;
  if (f.to) range.lt = `${nextDay(f.to)}T00:00:00Z`;
  if (Object.keys(range).length) must.push({ key: f.date === "mtime" ? "mtime" : "taken_at", range });
  if (f.format) must.push({ key: "format", match: { value: f.format } });
  return must.length ? { must } : null;
}

function filtersFromForm() {
  const folder = els.folder.value;
  return {
    folder: folder === "" ? null : folder.slice(1), // options are "=" + folder; "" is every folder
    prefix: els.prefix.value.trim(),
    date: els.date.value === "mtime" ? "mtime" : "taken",
    from: validDate(els.from.value),
    to: validDate(els.to.value),
    format: els.format.value,
  };
}

function ensureOption(select, value, label) {
  if (![...select.options].some((o) => o.value === value)) select.append(el("option", { value, textContent: label }));
}

function fillFacets(facets) {
  if (!facets) return;
  for (const select of [els.folder, els.format]) {
    const keep = select.value;
    select.replaceChildren(select.options[0]);
    select.value = keep;
  }
  for (const f of facets.folders || []) {
    ensureOption(els.folder, `=${f.value}`, `${f.value === "" ? "(top folder)" : f.value} (${f.count})`);
  }
  for (const f of facets.formats || []) ensureOption(els.format, f.value, `${f.value} (${f.count})`);
}

// ---------- the URL ----------

function parseBoard(text) {
  const body = JSON.parse(text);
  const items = [];
  for (const [list, negative] of [[body.positive, false], [body.negative, true]]) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new Error("positive and negative must be lists");
    for (const ex of list) {
      const weight = ex.weight === undefined ? 1 : Number(ex.weight);
      if (!Number.isFinite(weight)) throw new Error("a weight is not a number");
      if (typeof ex.text === "string") items.push({ text: ex.text, weight, negative });
      else if (isId(ex.id)) {
        const crop = ex.crop ? parseCrop(cropText(ex.crop)) : null;
        items.push({ id: ex.id, crop, weight, negative });
      } else throw new Error("an example needs an id or a text");
    }
  }
  if (!items.length) throw new Error("the board is empty");
  return items;
}

function boardBody(items) {
  const positive = [];
  const negative = [];
  for (const it of items) {
    const ex = it.text !== undefined ? { text: it.text } : { id: it.id };
    if (it.crop) ex.crop = normCrop(it.crop);
    if (it.weight !== 1) ex.weight = it.weight;
    (it.negative ? negative : positive).push(ex);
  }
  return { positive, negative };
}

function parseUrl(search, historyState) {
  const p = new URLSearchParams(search);
  const filters = {
    folder: p.has("folder") ? p.get("folder") : null,
    prefix: p.get("prefix") || "",
    date: p.get("date") === "mtime" ? "mtime" : "taken",
    from: validDate(p.get("from")),
    to: validDate(p.get("to")),
    format: p.get("format") || "",
  };
  const k = parseInt(p.get("k"), 10);
  const page = parseInt(p.get("page"), 10);
  const view = {
    kind: "browse",
    filters,
    page: Number.isFinite(page) && page > 0 ? Math.min(page, 50) : 1,
    k: Number.isFinite(k) && k >= 1 && k <= 1000 ? k : DEFAULT_K,
    index: p.get("index") || "",
  };
  if (p.get("view") === "duplicates") {
    view.kind = "dupes";
  } else if (p.get("view") === "review") {
    view.kind = "review";
  } else if (p.get("view") === "analytics") {
    view.kind = "analytics";
    const days = parseInt(p.get("days"), 10);
    view.days = [7, 30, 90].includes(days) ? days : 7;
  } else if (p.has("board")) {
    try {
      view.board = parseBoard(p.get("board"));
      view.kind = "board";
    } catch (err) {
      view.warning = `The board in the link cannot be read: ${err.message}`;
    }
  } else if (p.has("id") && isId(parseId(p.get("id")))) {
    view.kind = "id";
    view.id = parseId(p.get("id"));
    view.crop = parseCrop(p.get("crop"));
  } else if (p.get("text")) {
    view.kind = "text";
    view.text = p.get("text");
  } else if (historyState && state.uploads.has(historyState.upload)) {
    view.kind = "upload";
    view.uploadKey = historyState.upload;
  }
  return view;
}

function urlFor(view) {
  const p = new URLSearchParams();
  if (view.kind === "id") {
    p.set("id", String(view.id));
    if (view.crop) p.set("crop", cropText(view.crop));
  } else if (view.kind === "text") {
    p.set("text", view.text);
  } else if (view.kind === "board") {
    p.set("board", JSON.stringify(boardBody(view.board)));
  } else if (view.kind === "dupes") {
    p.set("view", "duplicates");
  } else if (view.kind === "review") {
    p.set("view", "review");
  } else if (view.kind === "analytics") {
    p.set("view", "analytics");
    if (view.days !== 7) p.set("days", String(view.days));
  }
  const f = view.filters;
  if (f.folder !== null) p.set("folder", f.folder);
  if (f.prefix) p.set("prefix", f.prefix);
  if (f.from) p.set("from", f.from);
  if (f.to) p.set("to", f.to);
  if ((f.from || f.to) && f.date === "mtime") p.set("date", "mtime");
  if (f.format) p.set("format", f.format);
  if (view.kind !== "browse" && view.k !== DEFAULT_K) p.set("k", String(view.k));
  if (view.kind !== "browse" && view.index) p.set("index", view.index);
  if (view.page > 1) p.set("page", String(view.page));
  const query = p.toString();
  return location.pathname + (query ? `?${query}` : "");
}

const historyStateFor = (view) => (view.kind === "upload" ? { upload: view.uploadKey } : null);

function navigate(view, { replace = false } = {}) {
  const url = urlFor(view);
  if (replace) history.replaceState(historyStateFor(view), "", url);
  else history.pushState(historyStateFor(view), "", url);
  return show(view);
}

// A new view of the same kind with the current filters and options.
function withCurrent(changes) {
  const v = state.view;
  return { filters: v.filters, k: v.k, index: v.index, page: 1, ...changes };
}

// ---------- showing a view ----------

function queryLabel(view) {
  if (view.kind === "id") return view.crop ? `crop:${view.id}` : `id:${view.id}`;
  return view.kind;
}

function syncForm(view) {
  const f = view.filters;
  if (f.folder !== null) ensureOption(els.folder, `=${f.folder}`, f.folder === "" ? "(top folder)" : f.folder);
  els.folder.value = f.folder === null ? "" : `=${f.folder}`;
  els.prefix.value = f.prefix;
  els.date.value = f.date;
  els.from.value = f.from;
  els.to.value = f.to;
  if (f.format) ensureOption(els.format, f.format, f.format);
  els.format.value = f.format;
  els.k.value = String(view.k);
  if (state.info) els.index.value = view.index || state.info.default_index || els.index.options[0]?.value || "";
  if (view.kind === "text") els.text.value = view.text;
  if (view.kind !== "upload") setPreview(null);
}

async function show(view) {
  const ticket = ++state.ticket;
  state.view = view;
  state.loaded = 0;
  state.total = null;
  state.more = false;
  syncForm(view);
  showError(view.warning || "");
  if (view.kind === "board") {
    state.board = view.board.map((it) => ({ ...it }));
    renderBoard();
  }
  if (view.kind === "upload") setPreview(URL.createObjectURL(state.uploads.get(view.uploadKey)));
  if (view.kind !== "id") window.scrollTo({ top: 0 });
  showViewer(view);
  const dash = view.kind === "analytics";
  els.dashboard.hidden = !dash;
  for (const part of [els.query, els.filters, els.results, els.moreRow]) part.hidden = dash;
  if (showReview(view)) {
    els.results.replaceChildren();
    els.results.dataset.query = "review";
    els.results.dataset.state = "done";
    els.results.removeAttribute("aria-busy");
    els.status.textContent = "";
    els.more.hidden = true;
    return;
  }
  if (dash) {
    els.status.textContent = "";
    els.results.dataset.query = "analytics";
    return loadDashboard(view);
  }
  els.results.dataset.state = "loading";
  els.results.setAttribute("aria-busy", "true");
  els.status.textContent = view.kind === "browse" ? "Loading photos…"
    : view.kind === "dupes" ? "Looking for duplicates…" : "Searching…";
  els.more.hidden = true;
  const pages = view.kind === "dupes" ? 0 : view.page;
  try {
    if (view.kind === "dupes" && !(await loadDupes(ticket))) return;
    for (let p = 0; p < pages; p++) {
      if (p > 0 && !state.more) break;
      const ok = await loadPage(ticket, p > 0);
      if (!ok) return;
    }
  } catch (err) {
    if (ticket !== state.ticket) return;
    els.status.textContent = "";
    els.results.replaceChildren();
    els.results.dataset.query = queryLabel(view);
    els.results.dataset.state = "error";
    els.results.removeAttribute("aria-busy");
    showError(err.message);
  }
}

// Fetches and shows the next page of the current view (the first when !append). False when outdated.
async function loadPage(ticket, append) {
  const view = state.view;
  const offset = append ? state.loaded : 0;
  state.loading = true;
  els.more.disabled = true;
  const started = performance.now();
  try {
    if (view.kind === "browse") {
      const filter = filterJson(view.filters);
      let url = `/api/images?offset=${offset}&limit=${BROWSE_LIMIT}`;
      if (filter) url += `&filter=${encodeURIComponent(JSON.stringify(filter))}`;
      const body = await api(url);
      if (ticket !== state.ticket) return false;
      state.total = body.total;
      renderCards(body.images, append, false);
      state.more = state.loaded < body.total;
      const n = state.loaded;
      els.status.textContent = body.total === 0
        ? (filter ? "No photos match the filters." : "The collection is empty.")
        : `${n} of ${body.total} photo${body.total === 1 ? "" : "s"}${filter ? " matching the filters" : ""}, newest first`;
    } else {
      const body = await api("/api/search", searchRequest(view, offset));
      if (ticket !== state.ticket) return false;
      renderCards(body.results, append, true, body.search_id);
      state.more = body.more;
      if (body.generation !== undefined && body.generation !== state.info.generation) refreshCollection(body.generation);
      els.status.textContent = `${queryTitle(view)}: ${searchStatus(body, performance.now() - started)}`;
    }
  } finally {
    if (ticket === state.ticket) {
      state.loading = false;
      els.more.disabled = false;
    }
  }
  els.results.dataset.query = queryLabel(view);
  els.results.dataset.state = "done";
  els.results.removeAttribute("aria-busy");
  els.results.dataset.count = String(state.loaded);
  els.more.hidden = !state.more;
  els.more.textContent = view.kind === "browse" ? "Load more" : "More results";
  return true;
}

function searchRequest(view, offset) {
  const filter = filterJson(view.filters);
  if (view.kind === "upload") {
    const form = new FormData();
    const file = state.uploads.get(view.uploadKey);
    form.append("image", file, file.name || "upload");
    form.append("k", String(view.k));
    form.append("offset", String(offset));
    form.append("collapse", "true");
    if (filter) form.append("filter", JSON.stringify(filter));
    if (view.index) form.append("index", view.index);
    return { method: "POST", body: form };
  }
  let body;
  if (view.kind === "id") body = view.crop ? { id: view.id, crop: normCrop(view.crop) } : { id: view.id };
  else if (view.kind === "text") body = { text: view.text };
  else body = boardBody(view.board);
  body.k = view.k;
  body.offset = offset;
  // The page shows one result per duplicate group; the others are listed on it ("+N copies").
  body.collapse = true;
  if (filter) body.filter = filter;
  if (view.index) body.index = view.index;
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

function searchStatus(body, totalMs) {
  const n = state.loaded;
  let text = n === 0
    ? "No results."
    : `${n} result${n === 1 ? "" : "s"}${body.more ? " (more available)" : ""} from ${body.index} in ${totalMs.toFixed(0)} ms ` +
      `(embedding ${body.embed_ms.toFixed(1)} ms, search ${body.search_ms.toFixed(2)} ms)`;
  if (body.filter) {
    text += ` · the filter keeps ${body.filter.matched} of ${body.filter.total} images` +
      (body.filter.exact ? " (searched exactly)" : "");
  }
  return text;
}

function queryTitle(view) {
  if (view.kind === "id") return view.crop ? "Similar to the region" : "Similar to this photo";
  if (view.kind === "text") return `Text “${view.text}”`;
  if (view.kind === "upload") return "Similar to the uploaded image";
  return boardSummary(view.board);
}

function boardSummary(items) {
  const neg = items.filter((it) => it.negative).length;
  return `Board of ${items.length - neg} positive${neg ? ` and ${neg} negative` : ""} example${items.length === 1 ? "" : "s"}`;
}

async function loadMore() {
  if (state.loading || !state.more || !state.view) return;
  const ticket = state.ticket;
  state.view.page += 1;
  history.replaceState(historyStateFor(state.view), "", urlFor(state.view));
  try {
    await loadPage(ticket, true);
  } catch (err) {
    if (ticket === state.ticket) showError(err.message);
  }
  // Still in view after a page: observing afresh reports it, and browsing loads on.
  if (moreObserver && !els.more.hidden) {
    moreObserver.unobserve(els.more);
    moreObserver.observe(els.more);
  }
}

// ---------- duplicates ----------

// Shows the groups of copies (GET /api/duplicates), each with the copy to keep first. False when outdated.
async function loadDupes(ticket) {
  const started = performance.now();
  const body = await api("/api/duplicates");
  if (ticket !== state.ticket) return false;
  const fragment = document.createDocumentFragment();
  body.groups.forEach((g, n) => {
    const items = el("div", { className: "dupe-items" });
    for (const im of g.images) {
      const img = el("img", { src: thumbUrl(im.id), alt: im.path, loading: "lazy", decoding: "async" });
      const open = el("button", { type: "button", className: "open", title: `Open ${im.path}` }, img);
      const caption = el("span", { className: "caption" });
      if (im.keep) caption.append(el("span", { className: "keep-badge", textContent: "keep", title: "the copy to keep: most pixels, then the oldest file" }));
      caption.append(el("span", { className: "score", textContent: `${im.width}×${im.height} · ${formatBytes(im.bytes)}` }));
      caption.append(el("span", { className: "path", textContent: im.path, title: im.path }));
      items.append(el("article", {
        className: im.keep ? "result keep" : "result",
        dataset: { id: String(im.id), path: im.path, folder: folderOf(im.path), keep: String(im.keep) },
      }, open, caption));
    }
    const title = `Group ${n + 1}: ${g.images.length} ${g.exact ? "identical files" : "copies"}`;
    fragment.append(el("section", { className: "dupe-group", "aria-label": title }, el("h3", { textContent: title }), items));
  });
  els.results.replaceChildren(fragment);
  state.loaded = els.results.querySelectorAll(".result").length;
  state.more = false;
  const copies = body.groups.reduce((n, g) => n + g.images.length - 1, 0);
  els.status.textContent = body.groups.length === 0
    ? "No duplicates: no two photos are copies of one picture."
    : `${body.groups.length} group${body.groups.length === 1 ? "" : "s"} of copies (${copies} could go), the copy to keep first · ${Math.round(performance.now() - started)} ms`;
  els.results.dataset.query = "dupes";
  els.results.dataset.state = "done";
  els.results.removeAttribute("aria-busy");
  els.results.dataset.count = String(state.loaded);
  return true;
}

els.dupesLink.addEventListener("click", (e) => {
  e.preventDefault();
  navigate(withCurrent({ kind: "dupes" }));
});

els.analyticsLink.addEventListener("click", (e) => {
  e.preventDefault();
  navigate(withCurrent({ kind: "analytics", days: 7 }));
});

// ---------- the analytics dashboard ----------

els.dashForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const token = els.dashToken.value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  navigate(withCurrent({ kind: "analytics", days: Number(els.dashDays.value) }), { replace: true });
});

async function loadDashboard(view) {
  const ticket = state.ticket;
  els.dashDays.value = String(view.days);
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  els.dashToken.value = token;
  els.dashSummary.replaceChildren();
  els.dashPlots.replaceChildren();
  delete els.dashboard.dataset.searches;
  if (!token) {
    els.dashboard.dataset.state = "token";
    els.status.textContent = "Enter the server's admin token to see the analytics.";
    return;
  }
  els.dashboard.dataset.state = "loading";
  let r;
  try {
    r = await api(`/api/analytics?days=${view.days}`, { headers: { Authorization: `Bearer ${token}` } });
  } catch (err) {
    if (ticket !== state.ticket) return;
    els.dashboard.dataset.state = "error";
    showError(err.message);
    return;
  }
  if (ticket !== state.ticket) return;
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const rows = [
    ["Searches", String(r.searches)], ["No result", `${r.zero_result_searches} (${pct(r.zero_result_rate)})`],
    ["Click-through", pct(r.click_through_rate)], ["MRR", r.mrr.toFixed(3)],
    ["Opens · pins · views", `${r.opens} · ${r.pins} · ${r.views}`],
    ["Median time to resolution", r.resolution.median_hours == null ? "none resolved" : `${r.resolution.median_hours.toFixed(1)} h`],
  ];
  els.dashSummary.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
  const days = r.per_day.map((d) => d.day.slice(5));
  els.dashPlots.replaceChildren(
    barChart("Searches per day", days, [
      { name: "with results", values: r.per_day.map((d) => d.searches - d.zero_results), cls: "s1" },
      { name: "no result", values: r.per_day.map((d) => d.zero_results), cls: "s2" },
    ], { stacked: true }),
    lineChart("Zero-result rate and click-through per day", days, [
      { name: "no result", values: r.per_day.map((d) => (d.searches ? d.zero_results / d.searches : null)), cls: "s2" },
      { name: "click-through", values: r.per_day.map((d) => (d.searches ? d.with_open / d.searches : null)), cls: "s1" },
    ], { max: 1, format: pct }),
    barChart("Latency per index (ms)", r.latency.map((l) => l.index), [
      { name: "p50", values: r.latency.map((l) => l.p50_ms), cls: "s1" },
      { name: "p99", values: r.latency.map((l) => l.p99_ms), cls: "s3" },
    ], { format: (x) => x.toFixed(1) }),
    barChart("Click-through rate and MRR", ["CTR", "MRR"], [
      { name: "value", values: [r.click_through_rate, r.mrr], cls: "s1" },
    ], { max: 1, format: (x) => x.toFixed(3) }),
  );
  els.dashboard.dataset.searches = String(r.searches);
  els.dashboard.dataset.state = "done";
  els.status.textContent = `Search analytics, ${r.from} to ${r.to} (UTC)`;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const PLOT = { w: 360, h: 180, left: 44, right: 8, top: 10, bottom: 28 };

// A plot's frame: the SVG, its title and legend, the y axis from 0 to `max` with three grid lines.
function plotFrame(title, series, max, format) {
  const figure = el("figure", { className: "plot" });
  const root = svg("svg", { viewBox: `0 0 ${PLOT.w} ${PLOT.h}`, role: "img", "aria-label": title });
  const innerH = PLOT.h - PLOT.top - PLOT.bottom;
  for (let i = 0; i <= 2; i++) {
    const v = (max * i) / 2;
    const y = PLOT.top + innerH - (innerH * i) / 2;
    root.append(svg("line", { x1: PLOT.left, x2: PLOT.w - PLOT.right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: PLOT.left - 4, y: y + 4, "text-anchor": "end", class: "tick" }, format(v)));
  }
  const legend = el("figcaption", {}, el("strong", { textContent: title }),
    ...series.map((s) => el("span", { className: `key ${s.cls}`, textContent: s.name })));
  figure.append(root, legend);
  return { figure, root, innerH, innerW: PLOT.w - PLOT.left - PLOT.right };
}

function niceMax(values, fixed) {
  if (fixed) return fixed;
  const top = Math.max(0, ...values.filter((v) => v != null));
  if (top <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(top));
  return Math.ceil(top / step) * step;
}

function xLabels(root, labels, x) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % every === 0) root.append(svg("text", { x: x(i), y: PLOT.h - 10, "text-anchor": "middle", class: "tick" }, label));
  });
}

function barChart(title, labels, series, { stacked = false, max = null, format = (x) => String(Math.round(x)) } = {}) {
  const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const top = niceMax(stacked ? totals : series.flatMap((s) => s.values), max);
  const { figure, root, innerH, innerW } = plotFrame(title, series, top, format);
  const slot = innerW / Math.max(1, labels.length);
  const groups = stacked ? 1 : series.length;
  const barW = Math.max(2, (slot * 0.8) / groups);
  labels.forEach((label, i) => {
    let base = 0;
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const h = (innerH * v) / top;
      const x = PLOT.left + slot * i + slot * 0.1 + (stacked ? 0 : j * barW);
      const y = PLOT.top + innerH - h - (stacked ? (innerH * base) / top : 0);
      const bar = svg("rect", { x, y, width: barW, height: Math.max(0, h), class: `bar ${s.cls}` });
      bar.append(svg("title", {}, `${label} ${s.name}: ${format(v)}`));
      root.append(bar);
      if (stacked) base += v;
    });
  });
  xLabels(root, labels, (i) => PLOT.left + slot * (i + 0.5));
  return figure;
}

function lineChart(title, labels, series, { max = null, format = (x) => String(x) } = {}) {
  const top = niceMax(series.flatMap((s) => s.values), max);
  const { figure, root, innerH, innerW } = plotFrame(title, series, top, format);
  const x = (i) => PLOT.left + (labels.length > 1 ? (innerW * i) / (labels.length - 1) : innerW / 2);
  for (const s of series) {
    const points = s.values.map((v, i) => (v == null ? null : [x(i), PLOT.top + innerH - (innerH * v) / top])).filter(Boolean);
    if (points.length > 1) root.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: `line ${s.cls}` }));
    for (const [px, py] of points) root.append(svg("circle", { cx: px, cy: py, r: 3, class: `dot ${s.cls}` }));
  }
  xLabels(root, labels, x);
  return figure;
}

// ---------- cards ----------

// `searchId`: the answer's id in the search analytics; each result card keeps it with its position, sent back
// when the card is opened or pinned.
function renderCards(items, append, isResult, searchId) {
  const fragment = document.createDocumentFragment();
  const metric = state.info ? state.info.metric : "cosine";
  for (const r of items) {
    const img = el("img", { src: thumbUrl(r.id), alt: r.path, loading: "lazy", decoding: "async" });
    const open = el("button", { type: "button", className: "open", title: `Open ${r.path}` }, img);
    const caption = el("span", { className: "caption" });
    if (isResult) {
      caption.append(el("span", {
        className: "score",
        title: metric === "l2" ? "distance (lower is closer)" : "similarity score",
        textContent: `#${r.rank} · ${r.score.toFixed(3)}`,
      }));
    } else if (r.taken_at || r.mtime) {
      caption.append(el("span", {
        className: "date",
        title: r.taken_at ? "date taken" : "file date",
        textContent: (r.taken_at || r.mtime).slice(0, 10),
      }));
    }
    caption.append(el("span", { className: "path", textContent: r.path, title: r.path }));
    // A video frame: its time on the thumbnail, and the video's other frames among the results.
    if (r.video) {
      open.append(el("span", { className: "video-time", textContent: `▶ ${clock(r.video.seconds)}` }));
      const others = Array.isArray(r.frames) ? r.frames : [];
      if (others.length) {
        caption.append(el("span", {
          className: "frames",
          title: "the video's other frames among the results",
          textContent: `also at ${others.map((f) => clock(f.seconds)).join(", ")}`,
        }));
      }
    }
    const pin = el("button", {
      type: "button", className: "pin", textContent: isPinned(r.id) ? "Pinned" : "Pin", title: "Pin to the board",
      "aria-label": `Pin ${r.path} to the board`, "aria-pressed": String(isPinned(r.id)),
    });
    // Zero-shot labels: a `hide` label blurs the thumbnail until a click reveals it; `flag` labels are badges.
    const hidden = Array.isArray(r.hidden) ? r.hidden : [];
    const flags = Array.isArray(r.flags) ? r.flags : [];
    const extras = [];
    if (hidden.length) {
      open.title = `Hidden (${hidden.join(", ")}): click to reveal`;
      open.append(el("span", { className: "veil-note", textContent: `${hidden.join(", ")} · click to reveal` }));
    }
    if (Array.isArray(r.copies) && r.copies.length) {
      extras.push(el("span", {
        className: "copies", textContent: `+${r.copies.length} ${r.copies.length === 1 ? "copy" : "copies"}`,
        title: `Copies of this picture: ${r.copies.join(", ")}`,
      }));
    }
    if (flags.length) {
      extras.push(el("span", { className: "badges" },
        ...flags.map((f) => el("span", { className: "badge", textContent: f, title: `label: ${f}` }))));
    }
    const dataset = { id: String(r.id), path: r.path, folder: r.folder ?? folderOf(r.path) };
    if (isResult && searchId) Object.assign(dataset, { search: searchId, rank: String(r.rank) });
    fragment.append(el("article", {
      className: hidden.length ? "result veiled" : "result",
      dataset,
    }, open, caption, pin, ...extras));
  }
  if (append) els.results.append(fragment);
  else els.results.replaceChildren(fragment);
  state.loaded = els.results.children.length;
}

els.results.addEventListener("click", (e) => {
  const card = e.target.closest(".result");
  if (!card) return;
  const id = parseId(card.dataset.id);
  if (e.target.closest(".pin")) {
    if (!isPinned(id)) sendEvent("pin", card);
    togglePin(id);
  } else if (e.target.closest(".open")) {
    // The first click on a hidden thumbnail reveals it; the next opens it.
    if (card.classList.contains("veiled")) {
      card.classList.remove("veiled");
      card.querySelector(".open").title = `Open ${card.dataset.path}`;
    } else {
      sendEvent(card.dataset.search ? "open" : "view", card);
      openPhoto(id);
    }
  }
});

// Tells the search analytics what was opened or pinned, and from which answer at which position. Fire and
// forget: a lost event never bothers the visitor.
function sendEvent(action, card) {
  const body = { action, id: parseId(card.dataset.id) };
  if (card.dataset.search) {
    body.search_id = card.dataset.search;
    body.position = Number(card.dataset.rank);
  }
  fetch("/api/analytics/events", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), keepalive: true,
  }).catch(() => {});
}

function openPhoto(id) {
  navigate(withCurrent({ kind: "id", id, crop: null }));
}

// ---------- the viewer ----------

// 75.5 seconds as "1:15.5".
function clock(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const whole = Math.floor(s);
  const rest = Math.round((s - whole) * 1000);
  const text = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  return rest ? `${text}.${String(rest).padStart(3, "0").replace(/0+$/, "")}` : text;
}

// A video frame plays its video from the frame's time (the server answers the video with Range requests, so
// the player seeks); an image hides the player.
function showVideo(id, video) {
  const player = els.viewerVideo;
  // Boxes are drawn on photos: the hint goes with the photo.
  const hint = els.cropArea.parentElement.querySelector(".hint");
  if (hint) hint.hidden = Boolean(video);
  if (!video) {
    player.hidden = true;
    player.removeAttribute("src");
    player.load();
    els.cropArea.hidden = false;
    return;
  }
  els.cropArea.hidden = true;
  player.hidden = false;
  player.dataset.seconds = String(video.seconds);
  player.addEventListener("loadedmetadata", () => {
    if (Math.abs(player.currentTime - video.seconds) > 0.05) player.currentTime = video.seconds;
  }, { once: true });
  player.src = `/api/images/${id}#t=${video.seconds}`;
}

function showViewer(view) {
  if (view.kind !== "id") {
    els.viewer.hidden = true;
    state.viewerId = null;
    return;
  }
  els.viewer.hidden = false;
  if (state.viewerId !== view.id) {
    state.viewerId = view.id;
    els.viewerImg.src = `/api/images/${view.id}`;
    els.viewerImg.alt = `Photo ${view.id}`;
    showVideo(view.id, null);
    els.viewerOriginal.href = `/api/images/${view.id}`;
    els.viewerTitle.textContent = `Photo ${view.id}`;
    els.viewerMeta.replaceChildren();
    resetReport();
    loadMeta(view.id);
    els.viewer.scrollIntoView({ block: "start" });
  }
  setCrop(view.crop);
  els.viewerPin.setAttribute("aria-pressed", String(isPinned(view.id)));
  els.viewerPin.textContent = isPinned(view.id) ? "Pinned" : "Pin";
}

// A browser that cannot show the original (TIFF) shows the thumbnail instead.
els.viewerImg.addEventListener("error", () => {
  const fallback = thumbUrl(state.viewerId);
  if (state.viewerId !== null && !els.viewerImg.src.endsWith(fallback)) els.viewerImg.src = fallback;
});

async function loadMeta(id) {
  let meta;
  try {
    meta = await api(`/api/images/${id}/meta`);
  } catch (err) {
    if (state.viewerId === id) showError(`Cannot read photo ${id}: ${err.message}`);
    return;
  }
  if (state.viewerId !== id) return;
  els.viewerTitle.textContent = meta.name || meta.path;
  if (meta.video) showVideo(id, meta.video);
  els.viewerImg.alt = meta.path;
  const rows = [
    ["Path", meta.path],
    ["Folder", meta.folder === "" ? "(top folder)" : meta.folder],
    ["Size", `${meta.width} × ${meta.height} px, ${formatBytes(meta.bytes)}`],
    ["Format", meta.format],
    ["Video", meta.video && `${meta.video.path} at ${clock(meta.video.seconds)}`],
    ["Taken", meta.taken_at && meta.taken_at.replace("T", " ").replace(/(:00)?Z$/, "")],
    ["File date", meta.mtime && meta.mtime.replace("T", " ").replace(/(:00)?Z$/, "")],
    ["Camera", [meta.camera_make, meta.camera_model].filter(Boolean).join(" ")],
    ["Location", meta.gps_lat != null && meta.gps_lon != null ? `${meta.gps_lat.toFixed(5)}, ${meta.gps_lon.toFixed(5)}` : ""],
  ];
  els.viewerMeta.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function setCrop(crop) {
  state.crop = crop;
  drawBox(crop);
  els.cropSearch.disabled = !crop;
  els.cropPin.disabled = !crop;
  els.cropClear.disabled = !crop;
}

function drawBox(box) {
  els.cropBox.hidden = !box;
  if (!box) return;
  Object.assign(els.cropBox.style, {
    left: `${box.x * 100}%`, top: `${box.y * 100}%`, width: `${box.w * 100}%`, height: `${box.h * 100}%`,
  });
}

// Drawing a box: pointer events cover the mouse, touch and pens.
let drag = null;

function pointerFraction(e) {
  const rect = els.viewerImg.getBoundingClientRect();
  return { x: clamp01((e.clientX - rect.left) / rect.width), y: clamp01((e.clientY - rect.top) / rect.height) };
}

function boxFrom(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

els.cropArea.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 || !els.viewerImg.complete) return;
  e.preventDefault();
  drag = { start: pointerFraction(e), pointerId: e.pointerId };
  els.cropArea.setPointerCapture(e.pointerId);
  els.cropArea.classList.add("drawing");
  drawBox(boxFrom(drag.start, drag.start));
});
els.cropArea.addEventListener("pointermove", (e) => {
  if (!drag || e.pointerId !== drag.pointerId) return;
  drawBox(boxFrom(drag.start, pointerFraction(e)));
});
function endDrag(e, cancelled) {
  if (!drag || e.pointerId !== drag.pointerId) return;
  const box = boxFrom(drag.start, pointerFraction(e));
  drag = null;
  els.cropArea.classList.remove("drawing");
  if (cancelled || box.w < MIN_CROP || box.h < MIN_CROP) setCrop(state.crop);
  else setCrop(normCrop(box));
}
els.cropArea.addEventListener("pointerup", (e) => endDrag(e, false));
els.cropArea.addEventListener("pointercancel", (e) => endDrag(e, true));

els.cropSearch.addEventListener("click", () => {
  if (state.crop && state.view.kind === "id") navigate(withCurrent({ kind: "id", id: state.view.id, crop: state.crop }));
});
els.cropClear.addEventListener("click", () => {
  setCrop(null);
  if (state.view.kind === "id" && state.view.crop) navigate(withCurrent({ kind: "id", id: state.view.id, crop: null }));
});
els.cropPin.addEventListener("click", () => {
  if (state.crop && state.viewerId !== null) addToBoard({ id: state.viewerId, crop: { ...state.crop } });
});
els.viewerPin.addEventListener("click", () => {
  if (state.viewerId !== null) togglePin(state.viewerId);
});
els.viewerClose.addEventListener("click", closeViewer);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !els.viewer.hidden && !e.target.closest("input, select")) closeViewer();
});

function closeViewer() {
  navigate(withCurrent({ kind: "browse" }));
}

// ---------- the board ----------

const itemKey = (it) => (it.text !== undefined ? `text:${it.text}` : `id:${it.id}${it.crop ? `@${cropText(it.crop)}` : ""}`);
const isPinned = (id) => state.board.some((it) => it.id === id && !it.crop);

function addToBoard(example) {
  const item = { weight: 1, negative: false, ...example };
  if (state.board.some((it) => itemKey(it) === itemKey(item))) return;
  state.board.push(item);
  renderBoard();
}

function togglePin(id) {
  if (isPinned(id)) state.board = state.board.filter((it) => !(it.id === id && !it.crop));
  else state.board.push({ id, crop: null, weight: 1, negative: false });
  renderBoard();
}

function renderBoard() {
  const items = state.board;
  els.board.hidden = items.length === 0;
  els.boardCount.textContent = `(${items.length})`;
  els.boardSearch.disabled = !items.some((it) => !it.negative);
  els.boardItems.replaceChildren(...items.map((it, i) => boardItem(it, i)));
  for (const card of els.results.querySelectorAll(".result")) {
    const pinned = isPinned(parseId(card.dataset.id));
    const pin = card.querySelector(".pin");
    pin.setAttribute("aria-pressed", String(pinned));
    pin.textContent = pinned ? "Pinned" : "Pin";
  }
  if (state.viewerId !== null) {
    els.viewerPin.setAttribute("aria-pressed", String(isPinned(state.viewerId)));
    els.viewerPin.textContent = isPinned(state.viewerId) ? "Pinned" : "Pin";
  }
  document.body.classList.toggle("has-board", items.length > 0);
  try {
    localStorage.setItem(BOARD_KEY, JSON.stringify(items));
  } catch {
    // storage off: the board lives as long as the page
  }
  scheduleRecommendations();
}

// ---------- "More like your board": GET /api/recommend with the board ----------

const RECS_K = 12;
let recsTimer = null;
let recsTicket = 0;

function scheduleRecommendations() {
  clearTimeout(recsTimer);
  recsTimer = setTimeout(loadRecommendations, 250);
}

async function loadRecommendations() {
  const ticket = ++recsTicket;
  if (!state.board.some((it) => !it.negative)) {
    els.recs.hidden = true;
    els.recs.dataset.state = "empty";
    els.recsItems.replaceChildren();
    return;
  }
  els.recs.hidden = false;
  els.recs.dataset.state = "loading";
  try {
    const board = encodeURIComponent(JSON.stringify(boardBody(state.board)));
    const body = await api(`/api/recommend?k=${RECS_K}&board=${board}`);
    if (ticket !== recsTicket) return;
    els.recsItems.replaceChildren(...body.results.map((r) => {
      const open = el("button", {
        type: "button", className: "rec", title: `Open ${r.path}`, dataset: { id: String(r.id), path: r.path },
      }, el("img", { src: thumbUrl(r.id), alt: r.path, loading: "lazy", decoding: "async" }));
      open.addEventListener("click", () => openPhoto(r.id));
      return open;
    }));
    els.recs.dataset.count = String(body.results.length);
    els.recs.dataset.state = "done";
  } catch (err) {
    if (ticket !== recsTicket) return;
    els.recs.dataset.state = "error";
    els.recsItems.replaceChildren(el("p", { className: "muted", textContent: `No recommendations: ${err.message}` }));
  }
}

function boardItem(it, i) {
  const label = it.text !== undefined ? `“${it.text}”` : `photo ${it.id}${it.crop ? " (region)" : ""}`;
  let figure;
  if (it.text !== undefined) {
    figure = el("span", { className: "thumb text", textContent: it.text, title: it.text });
  } else {
    figure = el("span", { className: "thumb", title: label, role: "img", "aria-label": label });
    figure.style.backgroundImage = `url("${thumbUrl(it.id)}")`;
    if (it.crop) {
      // Shows the region: the thumbnail scaled so that the crop fills the square.
      const c = it.crop;
      figure.style.backgroundSize = `${100 / c.w}% ${100 / c.h}%`;
      figure.style.backgroundPosition =
        `${c.w < 1 ? (c.x / (1 - c.w)) * 100 : 0}% ${c.h < 1 ? (c.y / (1 - c.h)) * 100 : 0}%`;
    }
  }
  const polarity = el("button", {
    type: "button", className: "polarity", textContent: it.negative ? "−" : "+",
    title: it.negative ? "Negative example: results unlike it (click for positive)" : "Positive example: results like it (click for negative)",
    "aria-label": `Negative example: ${label}`, "aria-pressed": String(it.negative),
  });
  polarity.addEventListener("click", () => {
    it.negative = !it.negative;
    renderBoard();
  });
  const weight = el("input", {
    type: "number", className: "weight", min: "0", max: "100", step: "0.1", value: String(it.weight),
    title: "Weight", "aria-label": `Weight of ${label}`,
  });
  weight.addEventListener("change", () => {
    const w = Number(weight.value);
    it.weight = Number.isFinite(w) && w >= 0 && w <= 100 ? w : 1;
    renderBoard();
  });
  const remove = el("button", {
    type: "button", className: "remove", textContent: "×", title: "Remove from the board",
    "aria-label": `Remove ${label} from the board`,
  });
  remove.addEventListener("click", () => {
    state.board.splice(i, 1);
    renderBoard();
  });
  return el("li", {
    className: `board-item${it.negative ? " negative" : ""}`,
    dataset: { key: itemKey(it), ...(it.id !== undefined ? { id: String(it.id) } : {}), negative: String(it.negative) },
  }, figure, el("span", { className: "board-controls" }, polarity, weight, remove));
}

function loadStoredBoard() {
  try {
    const items = JSON.parse(localStorage.getItem(BOARD_KEY) || "[]");
    if (!Array.isArray(items)) return;
    state.board = items.filter((it) => it && (typeof it.text === "string" || isId(it.id))).map((it) => ({
      ...(typeof it.text === "string" ? { text: it.text } : { id: it.id, crop: it.crop ? parseCrop(cropText(it.crop)) : null }),
      weight: Number.isFinite(it.weight) && it.weight >= 0 && it.weight <= 100 ? it.weight : 1,
      negative: Boolean(it.negative),
    }));
  } catch {
    state.board = [];
  }
}

els.boardSearch.addEventListener("click", () => {
  if (!state.board.length) return;
  navigate(withCurrent({ kind: "board", board: state.board.map((it) => ({ ...it })) }));
});
els.boardClear.addEventListener("click", () => {
  state.board = [];
  renderBoard();
});

// ---------- uploads and text ----------

function setPreview(src) {
  if (previewUrl && previewUrl !== src) URL.revokeObjectURL(previewUrl);
  previewUrl = src && src.startsWith("blob:") ? src : null;
  if (src) els.preview.src = src;
  else els.preview.removeAttribute("src");
  els.preview.hidden = !src;
  els.dropText.textContent = src ? "Drop or pick another image" : "Drop an image here or pick a file";
}

function searchFile(file) {
  if (!file) return;
  const key = ++state.uploadSeq;
  state.uploads.set(key, file);
  // Keep the last few uploads for Back and Forward.
  for (const old of state.uploads.keys()) if (state.uploads.size > 5) state.uploads.delete(old);
  navigate(withCurrent({ kind: "upload", uploadKey: key }));
}

els.file.addEventListener("change", () => {
  searchFile(els.file.files[0]);
  els.file.value = "";
});
els.drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    els.file.click();
  }
});
for (const type of ["dragenter", "dragover"]) {
  els.drop.addEventListener(type, (e) => {
    e.preventDefault();
    els.drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  els.drop.addEventListener(type, () => els.drop.classList.remove("over"));
}
els.drop.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = [...(e.dataTransfer ? e.dataTransfer.files : [])].find((f) => f.type.startsWith("image/"));
  if (file) searchFile(file);
  else showError("Drop an image file (JPEG, PNG, WebP, GIF, BMP or TIFF).");
});
// Dropping a file anywhere else must not navigate away from the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());

els.textForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = els.text.value.trim();
  if (text) navigate(withCurrent({ kind: "text", text }));
});
els.textPin.addEventListener("click", () => {
  const text = els.text.value.trim();
  if (text) addToBoard({ text });
  else showError("Type a text to add it to the board.");
});

// ---------- filters and options ----------

function applyFilters() {
  const filters = filtersFromForm();
  if (JSON.stringify(filters) === JSON.stringify(state.view.filters)) return;
  navigate({ ...state.view, filters, page: 1 });
}

for (const control of [els.folder, els.date, els.from, els.to, els.format, els.prefix]) {
  control.addEventListener("change", () => {
    // The date kind alone changes nothing while no date is set.
    if (control === els.date && !els.from.value && !els.to.value) return;
    applyFilters();
  });
}
els.filters.addEventListener("submit", (e) => {
  e.preventDefault();
  applyFilters();
});
els.clear.addEventListener("click", () => {
  navigate({ ...state.view, filters: emptyFilters(), page: 1 });
});
els.k.addEventListener("change", () => {
  const k = parseInt(els.k.value, 10);
  if (!(k >= 1 && k <= 1000)) {
    els.k.value = String(state.view.k);
    return;
  }
  if (state.view.kind === "browse") state.view.k = k;
  else navigate({ ...state.view, k, page: 1 });
});
els.index.addEventListener("change", () => {
  const index = els.index.value === state.info.default_index ? "" : els.index.value;
  if (state.view.kind === "browse") state.view.index = index;
  else navigate({ ...state.view, index, page: 1 });
});

els.more.addEventListener("click", loadMore);
// Browsing scrolls on by itself when the "Load more" button comes into view.
const moreObserver = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && state.view && state.view.kind === "browse") loadMore();
  }, { rootMargin: "400px" })
  : null;
if (moreObserver) moreObserver.observe(els.more);

window.addEventListener("popstate", (e) => {
  show(parseUrl(location.search, e.state));
});

// ---------- start ----------

function describe(info) {
  els.about.textContent =
    `${info.count} images · ${info.model} (${info.dimension}-d, ${info.metric})` +
    (info.text_search ? " · text search on" : "") +
    (info.qdrant ? ` · Qdrant ${info.qdrant.collection} (${info.qdrant.status}, ${info.qdrant.shards} shards × ${info.qdrant.replicas})` : "") +
    // An interrupted or failed index run: not damage, the next run commits them.
    (info.pending_files > 0 ? ` · ${info.pending_files} more indexed, not yet committed (run vsearch index to finish)` : "");
  // Duplicates need the images' pixels: a local collection, or a Qdrant one served with --root DIR.
  els.dupesLink.hidden = !info.duplicates;
}

// The server now serves a newer state of the collection (images added or removed): new counts and facets.
let refreshing = false;
async function refreshCollection(generation) {
  if (refreshing) return;
  refreshing = true;
  try {
    const [info, facets] = await Promise.all([api("/api/collection"), api("/api/facets")]);
    state.info = { ...info, generation: Math.max(info.generation, generation) };
    describe(info);
    fillFacets(facets);
    syncForm(state.view);
  } catch {
    // the next answer tries again
  } finally {
    refreshing = false;
  }
}

// ---------- reports and the review queue ----------
// A visitor reports the viewed photo (POST /api/images/{id}/reports) with a reason from the server's policy; the
// reporter id is an opaque random id this browser keeps. The review view lists the open cases (GET /api/reports,
// admin token kept for this tab only) and resolves them (POST /api/reports/{case}/resolve).

const REPORTER_KEY = "vsearch.reporter";
const rv = {
  section: $("review"), form: $("review-form"), token: $("review-token"), order: $("review-order"),
  status: $("review-status"), cases: $("review-cases"),
  report: $("viewer-report"), reportForm: $("report-form"), reason: $("report-reason"), note: $("report-note"),
  reportCancel: $("report-cancel"), reportStatus: $("report-status"),
};

function reporterId() {
  let id = null;
  try { id = localStorage.getItem(REPORTER_KEY); } catch { /* storage off */ }
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    try { localStorage.setItem(REPORTER_KEY, id); } catch { /* storage off: a new id per page */ }
  }
  return id;
}

const reasonLabel = (r) => r.replace(/[_-]/g, " ");

function resetReport() {
  rv.reportForm.hidden = true;
  rv.reportStatus.hidden = true;
  rv.report.hidden = false;
  rv.note.value = "";
}

rv.report.addEventListener("click", async () => {
  let policy;
  try {
    policy = await api("/api/reports/policy");
  } catch (err) {
    showError(`Reports are not taken here: ${err.message}`);
    return;
  }
  rv.reason.replaceChildren(...policy.reasons.map((r) => el("option", { value: r, textContent: reasonLabel(r) })));
  rv.note.maxLength = policy.max_note_chars;
  rv.report.hidden = true;
  rv.reportStatus.hidden = true;
  rv.reportForm.hidden = false;
  rv.reason.focus();
});

rv.reportCancel.addEventListener("click", resetReport);

rv.reportForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = state.viewerId;
  if (id === null) return;
  const note = rv.note.value.trim();
  let body;
  try {
    body = await api(`/api/images/${id}/reports`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ reason: rv.reason.value, reporter: reporterId(), ...(note ? { note } : {}) }),
    });
  } catch (err) {
    showError(`The report was not sent: ${err.message}`);
    return;
  }
  if (state.viewerId !== id) return;
  rv.reportForm.hidden = true;
  rv.reportStatus.hidden = false;
  rv.reportStatus.textContent = !body.counted ? "You have reported this photo already."
    : body.hidden ? "Reported. The photo is hidden until a reviewer looks at it."
    : "Reported. Thank you: a reviewer will look at it.";
});

// Shows or hides the review view; true when the view is the review queue.
function showReview(view) {
  const on = view.kind === "review";
  rv.section.hidden = !on;
  document.body.dataset.view = on ? "review" : "";
  if (!on) return false;
  if (!rv.token.value) {
    try { rv.token.value = sessionStorage.getItem(TOKEN_KEY) || ""; } catch { /* storage off */ }
  }
  if (rv.token.value) loadCases();
  else {
    rv.cases.replaceChildren();
    rv.status.textContent = "Enter the server's admin token (vsearch serve --admin-token) to see the reports.";
  }
  return true;
}

function adminApi(url, init = {}) {
  return api(url, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${rv.token.value.trim()}` } });
}

async function loadCases() {
  rv.section.dataset.state = "loading";
  rv.status.textContent = "Loading the reports…";
  let body;
  try {
    body = await adminApi(`/api/reports?order=${encodeURIComponent(rv.order.value)}`);
  } catch (err) {
    rv.cases.replaceChildren();
    rv.status.textContent = "";
    rv.section.dataset.state = "error";
    showError(`Cannot read the reports: ${err.message}`);
    return;
  }
  showError("");
  try { sessionStorage.setItem(TOKEN_KEY, rv.token.value.trim()); } catch { /* storage off */ }
  rv.status.textContent = body.cases.length ? `${body.cases.length} open case${body.cases.length === 1 ? "" : "s"}` : "No open cases.";
  rv.cases.replaceChildren(...body.cases.map(caseItem));
  rv.section.dataset.state = "done";
}

function caseItem(c) {
  const reasons = c.reasons.map((r) => `${reasonLabel(r.reason)} × ${r.reports}`).join(", ");
  const copies = c.copies;
  const picture = c.hidden_pending_review
    ? el("div", { className: "case-hidden", textContent: "Hidden pending review" })
    : el("img", { src: thumbUrl(c.image), alt: c.path, loading: "lazy" });
  const notes = c.reports.filter((r) => r.note).map((r) => el("li", { textContent: `${reasonLabel(r.reason)}: ${r.note}` }));
  const near = el("input", { type: "checkbox", className: "block-near" });
  const why = el("input", { type: "text", className: "dismiss-reason", placeholder: "Why dismiss (required)", maxLength: 2000 });
  const resolve = async (request) => {
    try {
      await adminApi(`/api/reports/${c.id}/resolve`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
      });
    } catch (err) {
      showError(`Case ${c.id}: ${err.message}`);
      return;
    }
    await loadCases();
  };
  const block = el("button", { type: "button", className: "block", textContent: "Block" });
  block.addEventListener("click", () => resolve({ action: "block", near: near.checked }));
  const dismiss = el("button", { type: "button", className: "dismiss secondary", textContent: "Dismiss" });
  dismiss.addEventListener("click", () => {
    if (!why.value.trim()) {
      why.focus();
      showError("A dismissal needs a reason.");
      return;
    }
    resolve({ action: "dismiss", reason: why.value.trim() });
  });
  return el("li", { className: "case", dataset: { case: String(c.id), image: String(c.image) } },
    picture,
    el("div", { className: "case-body" },
      el("h3", { textContent: `Case ${c.id}: ${c.path}` }),
      el("p", { textContent: `${c.reporters} reporter${c.reporters === 1 ? "" : "s"} since ${c.opened_at.replace("T", " ").replace(/(\.\d+)?Z$/, "")}: ${reasons}` }),
      c.labels.length ? el("p", { className: "muted", textContent: `Labels: ${c.labels.join(", ")}` }) : "",
      copies.length ? el("p", { className: "muted", textContent: `Copies: ${copies.map((n) => n.path).join(", ")}` }) : "",
      notes.length ? el("ul", { className: "notes" }, ...notes) : "",
      el("div", { className: "actions" },
        block,
        el("label", { className: "inline" }, near, ` and its ${copies.length} cop${copies.length === 1 ? "y" : "ies"}`),
        why,
        dismiss)));
}

rv.form.addEventListener("submit", (e) => {
  e.preventDefault();
  loadCases();
});
rv.order.addEventListener("change", () => { if (rv.token.value) loadCases(); });

async function init() {
  let info, facets;
  try {
    [info, facets] = await Promise.all([
      api("/api/collection"),
      api("/api/facets").catch((err) => {
        showError(`Cannot read the folders and formats: ${err.message}`);
        return null;
      }),
    ]);
  } catch (err) {
    els.about.textContent = "";
    showError(`Cannot read the collection: ${err.message}`);
    return;
  }
  state.info = info;
  describe(info);
  const kinds = info.indexes.map((i) => i.kind);
  const ordered = info.default_index ? [info.default_index, ...kinds.filter((k) => k !== info.default_index)] : kinds;
  els.index.replaceChildren(...ordered.map((kind) => el("option", {
    value: kind, textContent: kind === "flat" ? "flat (exact)" : kind,
  })));
  els.textForm.hidden = !info.text_search;
  fillFacets(facets);
  loadStoredBoard();
  const view = parseUrl(location.search, history.state);
  history.replaceState(historyStateFor(view), "", urlFor(view));
  if (view.kind !== "board") renderBoard();
  await show(view);
  document.body.dataset.ready = "true";
}

init();
