// vsearch web page: plain JavaScript over the JSON API (/api/collection, /api/search, /api/images/{id}/thumbnail).
"use strict";

const $ = (id) => document.getElementById(id);
const els = {
  about: $("about"), drop: $("drop"), file: $("file"), preview: $("preview"), dropText: $("drop-text"),
  textForm: $("text-form"), text: $("text"), index: $("index"), k: $("k"),
  status: $("status"), error: $("error"), results: $("results"),
};

let generation = 0; // answers to older queries are ignored
let previewUrl = null;

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
}

function options() {
  const opts = {};
  const k = parseInt(els.k.value, 10);
  if (Number.isFinite(k)) opts.k = k;
  if (els.index.value) opts.index = els.index.value;
  return opts;
}

function setPreview(src) {
  if (previewUrl && previewUrl !== src) URL.revokeObjectURL(previewUrl);
  previewUrl = src && src.startsWith("blob:") ? src : null;
  els.preview.src = src || "";
  els.preview.hidden = !src;
  els.dropText.textContent = src ? "Drop or pick another image" : "Drop an image here or pick a file";
}

async function run(label, request) {
  const mine = ++generation;
  showError("");
  els.status.textContent = `Searching (${label})…`;
  const started = performance.now();
  let response, body;
  try {
    response = await fetch("/api/search", request);
    body = await response.json();
  } catch (err) {
    if (mine === generation) {
      els.status.textContent = "";
      showError(`The server did not answer: ${err.message}`);
    }
    return;
  }
  if (mine !== generation) return;
  if (!response.ok) {
    els.status.textContent = "";
    showError(body && body.error ? body.error : `Error ${response.status}`);
    return;
  }
  const total = performance.now() - started;
  render(body, label, total);
}

function render(body, label, totalMs) {
  const n = body.results.length;
  els.status.textContent =
    `${n} result${n === 1 ? "" : "s"} from ${body.index} in ${totalMs.toFixed(0)} ms ` +
    `(embedding ${body.embed_ms.toFixed(1)} ms, search ${body.search_ms.toFixed(2)} ms)`;
  const fragment = document.createDocumentFragment();
  for (const r of body.results) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "result";
    card.dataset.id = String(r.id);
    card.title = `Search from ${r.path}`;
    const img = document.createElement("img");
    img.src = `/api/images/${r.id}/thumbnail`;
    img.alt = r.path;
    img.loading = "lazy";
    img.decoding = "async";
    const caption = document.createElement("span");
    caption.className = "caption";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = `#${r.rank} · ${r.score.toFixed(3)}`;
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = r.path;
    caption.append(score, path);
    card.append(img, caption);
    card.addEventListener("click", () => searchById(r.id));
    fragment.append(card);
  }
  els.results.replaceChildren(fragment);
  els.results.dataset.query = label;
  els.results.dataset.generation = String(generation);
}

function searchFile(file) {
  if (!file) return;
  setPreview(URL.createObjectURL(file));
  const form = new FormData();
  form.append("image", file, file.name || "upload");
  for (const [key, value] of Object.entries(options())) form.append(key, String(value));
  run("upload", { method: "POST", body: form });
}

function searchById(id) {
  setPreview(`/api/images/${id}/thumbnail`);
  window.scrollTo({ top: 0, behavior: "smooth" });
  run(`id:${id}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id, ...options() }),
  });
}

function searchText(text) {
  if (!text.trim()) return;
  setPreview(null);
  run("text", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text, ...options() }),
  });
}

async function loadCollection() {
  try {
    const response = await fetch("/api/collection");
    const info = await response.json();
    if (!response.ok) throw new Error(info.error || `error ${response.status}`);
    els.about.textContent =
      `${info.count} images · ${info.model} (${info.dimension}-d, ${info.metric})` +
      (info.text_search ? " · text search on" : "");
    els.index.replaceChildren();
    const kinds = info.indexes.map((i) => i.kind);
    const ordered = info.default_index ? [info.default_index, ...kinds.filter((k) => k !== info.default_index)] : kinds;
    for (const kind of ordered) {
      const option = document.createElement("option");
      option.value = kind;
      option.textContent = kind === "flat" ? "flat (exact)" : kind;
      els.index.append(option);
    }
    els.textForm.hidden = !info.text_search;
    document.body.dataset.ready = "true";
  } catch (err) {
    els.about.textContent = "";
    showError(`Cannot read the collection: ${err.message}`);
  }
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
  searchText(els.text.value);
});

loadCollection();
