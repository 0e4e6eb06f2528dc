// The styx studio page: forms generated from /api/catalogue, jobs watched through
// /api/events (server-sent events). Plain JavaScript, no build step.
"use strict";

const state = {
  catalogue: null,          // methods, models, images
  jobs: new Map(),          // id -> job (as /api/jobs gives it)
  progress: new Map(),      // id -> latest progress event
  curves: new Map(),        // id -> [[step, loss], ...] of a live job
  picked: { content: null, styles: [], trainStyles: [] },
  views: { stylise: null, train: null },   // the job each view shows
  compare: new Set(),
};

// -- helpers ---------------------------------------------------------------------------
const $ = (selector) => document.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" },
                     body: JSON.stringify(body) });
}

function say(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
  if (kind === "info" && text) setTimeout(() => { if (box.textContent === text) box.hidden = true; }, 4000);
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  return value < 90 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function methodSpec(name) {
  return state.catalogue.methods.find((m) => m.name === name);
}

// -- tabs ------------------------------------------------------------------------------
function showTab() {
  const [tab, jobId] = (location.hash.slice(1) || "stylise").split("/");
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.tab === tab);
  if (jobId && state.jobs.has(jobId)) showJob(tab === "train" ? "train" : "stylise", jobId);
  if (tab === "history") renderHistory();
  if (tab === "studies") loadStudies();
}

// -- images ----------------------------------------------------------------------------
function renderGallery(container, pickedIds, onPick) {
  container.replaceChildren(...state.catalogue.images.map((image) => el("figure",
    { class: pickedIds.includes(image.id) ? "picked" : null, "data-id": image.id, title: image.name,
      onclick: () => onPick(image.id) },
    el("img", { src: image.url, alt: image.name, loading: "lazy" }),
    el("figcaption", { text: image.name }))));
}

function renderGalleries() {
  renderGallery($("#content-gallery"), state.picked.content ? [state.picked.content] : [], (id) => {
    state.picked.content = state.picked.content === id ? null : id;
    renderGalleries();
    schedulePreview();
  });
  renderGallery($("#style-gallery"), state.picked.styles, (id) => {
    toggle(state.picked.styles, id);
    renderGalleries();
  });
  renderGallery($("#train-style-gallery"), state.picked.trainStyles, (id) => {
    const one = methodSpec($("#train-method").value)?.train_styles === "one";
    if (one) state.picked.trainStyles = state.picked.trainStyles[0] === id ? [] : [id];
    else toggle(state.picked.trainStyles, id);
    renderGalleries();
  });
}

function toggle(list, id) {
  const at = list.indexOf(id);
  if (at >= 0) list.splice(at, 1); else list.push(id);
}

async function upload(files) {
  const added = [];
  for (const file of files) {
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const image = await api("/api/images", { method: "POST", body: form });
      if (!state.catalogue.images.some((i) => i.id === image.id)) state.catalogue.images.unshift(image);
      added.push(image.id);
    } catch (problem) {
      say(problem.message);
    }
  }
  return added;
}

function wireUpload(input, gallery, pick) {
  const take = async (files) => {
    const ids = await upload(files);
    if (ids.length) { say(""); pick(ids); renderGalleries(); schedulePreview(); }
  };
  input.addEventListener("change", () => { take([...input.files]); input.value = ""; });
  gallery.addEventListener("dragover", (event) => { event.preventDefault(); gallery.classList.add("drop"); });
  gallery.addEventListener("dragleave", () => gallery.classList.remove("drop"));
  gallery.addEventListener("drop", (event) => {
    event.preventDefault();
    gallery.classList.remove("drop");
    take([...event.dataTransfer.files]);
  });
}

// -- option forms, from each method's config --------------------------------------------
function buildForm(form, options, values = {}) {
  const panels = new Map();
  for (const option of options) {
    const panel = option.panel || "Options";
    if (!panels.has(panel)) panels.set(panel, []);
    panels.get(panel).push(option);
  }
  // the method's own options first, open; the shared bundles after; where it runs last
  const order = (name) => (name === "Options" ? 0 : name === "Runtime" ? 2 : 1);
  const sorted = [...panels].sort((a, b) => order(a[0]) - order(b[0]));
  form.replaceChildren(...sorted.map(([panel, fields], index) => el("details",
    { open: index === 0 ? true : null },
    el("summary", { text: panel }), ...fields.map((option) => field(option, values[option.name])))));
}

function defaultText(option) {
  if (option.default_text) return option.default_text;
  const value = option.default;
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}=${v}`).join(",");
  return String(value);
}

function field(option, value) {
  const id = `option-${option.name}-${Math.random().toString(36).slice(2, 8)}`;
  const help = el("p", { class: "help", text: option.help });
  if (option.kind === "flag") {
    const box = el("input", { type: "checkbox", id, name: option.name, "data-default": String(Boolean(option.default)) });
    box.checked = value === undefined ? Boolean(option.default) : Boolean(value);
    return el("div", { class: "field flag" }, el("label", { for: id }, box, option.flag), help);
  }
  const attributes = { id, name: option.name, placeholder: defaultText(option), "data-kind": option.kind,
                       autocomplete: "off", spellcheck: "false" };
  const input = option.kind === "list" ? el("textarea", { ...attributes, rows: 2 }) : el("input", { ...attributes, type: "text" });
  if (value !== undefined && value !== null) input.value = Array.isArray(value) ? value.join("\n") : String(value);
  return el("div", { class: "field" }, el("label", { for: id, text: option.flag + (option.required ? " (required)" : "") }), input, help);
}

function formValues(form) {
  const values = {};
  for (const input of form.querySelectorAll("input, textarea")) {
    if (input.type === "checkbox") {
      if (String(input.checked) !== input.dataset.default) values[input.name] = input.checked;
    } else if (input.value.trim()) {
      values[input.name] = input.dataset.kind === "list" ? input.value.split("\n").filter((v) => v.trim()) : input.value.trim();
    }
  }
  return values;
}

// -- stylise ---------------------------------------------------------------------------
function renderMethods() {
  const select = $("#method");
  const chosen = select.value;
  const methods = state.catalogue.methods.filter((m) => m.can_run && !m.feed_forward);
  const models = state.catalogue.models.filter((m) => !m.error);
  select.replaceChildren(
    el("optgroup", { label: "Methods" }, ...methods.map((m) => el("option", { value: `method:${m.name}`, text: m.name }))),
    el("optgroup", { label: "Trained models" }, ...models.map((m) => el("option",
      { value: `model:${m.name}`, text: `${m.name} (${m.method}${m.styles.length > 1 ? `, ${m.styles.length} styles` : ""})` }))));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  const train = $("#train-method");
  const trainChosen = train.value;
  train.replaceChildren(...state.catalogue.methods.filter((m) => m.can_train).map((m) => el("option", { value: m.name, text: m.name })));
  if (trainChosen) train.value = trainChosen;
}

function chosenRun() {
  const [kind, name] = $("#method").value.split(/:(.*)/s);
  if (kind === "model") {
    const model = state.catalogue.models.find((m) => m.name === name);
    return { model, spec: methodSpec(model.method) };
  }
  return { model: null, spec: methodSpec(name) };
}

// Whether the run takes style images: a method, as its spec says; a trained model, as its
// generator declares (its style_inputs: a model that holds its styles has none).
function takesStyles({ model, spec }) {
  return model ? model.style_inputs.length > 0 : spec.uses_styles;
}

function onMethodChange(values = {}) {
  const { model, spec } = chosenRun();
  const usesStyles = takesStyles({ model, spec });
  const asked = usesStyles ? " It takes its style from the painting(s) you pick." : "";
  $("#method-summary").textContent = model ? `A trained ${model.method} model: it answers in about a second.${asked}` : spec.summary;
  $("#style-gallery").hidden = !usesStyles;
  $("#style-upload").parentElement.hidden = !usesStyles;
  $("#style-gallery").previousElementSibling.hidden = !usesStyles;
  buildForm($("#run-form"), spec.run_options, values);
  renderModelStyles(model);
}

function renderModelStyles(model) {
  const box = $("#model-styles");
  box.hidden = !model || model.styles.length < 2;
  if (box.hidden) return;
  const sliders = model.styles.map((name, index) => {
    const slider = el("input", { type: "range", min: 0, max: 1, step: 0.05, value: index === 0 ? 1 : 0, "data-index": index });
    const shown = el("span", { text: slider.value });
    slider.addEventListener("input", () => { shown.textContent = slider.value; markChosen(); schedulePreview(); });
    return el("label", {}, el("span", { text: name }), slider, shown);
  });
  const markChosen = () => {
    const weights = sliders.map((s) => Number(s.querySelector("input").value));
    for (const [i, b] of [...$("#style-buttons").children].entries()) {
      b.classList.toggle("chosen", weights[i] === 1 && weights.every((w, j) => j === i || w === 0));
    }
  };
  $("#style-buttons").replaceChildren(...model.styles.map((name, index) => el("button", {
    type: "button", text: name, onclick: () => {
      for (const [j, s] of sliders.entries()) { const input = s.querySelector("input"); input.value = j === index ? 1 : 0; s.lastChild.textContent = input.value; }
      markChosen();
      schedulePreview();
    } })));
  $("#fusion").replaceChildren(el("p", { class: "help", text: "Linear fusion: mix the styles in feature space." }), ...sliders);
  markChosen();
  schedulePreview();
}

function styleMix() {
  const sliders = [...document.querySelectorAll("#fusion input[type=range]")];
  if (!sliders.length || $("#model-styles").hidden) return null;
  const parts = sliders.filter((s) => Number(s.value) > 0).map((s) => `${s.dataset.index}:${s.value}`);
  return parts.length ? parts.join(",") : null;
}

let previewTimer = null;
let previewing = false;
function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(runPreview, 120);
}

async function runPreview() {
  const { model } = chosenRun();
  const mix = styleMix();
  if (!model || !mix) return;
  if (previewing) { schedulePreview(); return; }
  previewing = true;
  try {
    const blob = await postJSON("/api/preview", { model: model.name, content: state.picked.content, size: 160, options: { style_mix: mix } });
    const image = $("#preview");
    URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(blob);
    image.hidden = false;
  } catch (problem) {
    say(problem.message);
  } finally {
    previewing = false;
  }
}

async function runStylise() {
  const { model, spec } = chosenRun();
  const options = formValues($("#run-form"));
  const mix = styleMix();
  if (mix && !options.style && !options.style_mix) options.style_mix = mix;
  const body = { kind: "stylize", content: state.picked.content, options, parent: $("#run").dataset.parent || null };
  if (model) body.model = model.name; else body.method = spec.name;
  if (takesStyles({ model, spec })) body.styles = state.picked.styles;
  try {
    const job = await postJSON("/api/jobs", body);
    say("");
    remember(job);
    delete $("#run").dataset.parent;
    location.hash = `stylise/${job.id}`;
    showJob("stylise", job.id);
  } catch (problem) {
    say(problem.message);
  }
}

// -- train -----------------------------------------------------------------------------
async function loadFolders() {
  const { roots, folders } = await api("/api/folders");
  const select = $("#content-folder");
  select.replaceChildren(el("option", { value: "", text: "(none: a texture, no photos)" }),
    ...folders.map((f) => el("option", { value: f.id, text: `${f.path} (${f.images} images here)` })));
  if (folders.length) select.value = folders[0].id;
  $("#folder-help").textContent = roots.length ? "Folders under the server's --allow-dir roots (searched recursively)." :
    "The server reads no folder: start it with 'styx serve --allow-dir FOLDER' to train on photos.";
}

function onTrainMethodChange(values = {}) {
  const spec = methodSpec($("#train-method").value);
  if (!spec) return;
  buildForm($("#train-form"), spec.train_options, values);
  if (spec.train_styles === "one") state.picked.trainStyles = state.picked.trainStyles.slice(0, 1);
  renderGalleries();
}

async function startTraining() {
  const body = { kind: "train", method: $("#train-method").value, styles: state.picked.trainStyles,
                 content_folder: $("#content-folder").value || null, options: formValues($("#train-form")) };
  try {
    const job = await postJSON("/api/jobs", body);
    say("");
    remember(job);
    location.hash = `train/${job.id}`;
    showJob("train", job.id);
  } catch (problem) {
    say(problem.message);
  }
}

// -- jobs ------------------------------------------------------------------------------
// A job as a reply gave it (``latest``: from the event stream, always the newest; else a
// request's reply, which may arrive after newer events and so never replaces a known job).
function remember(job, latest = false) {
  if (!job || (!latest && state.jobs.has(job.id))) return;
  state.jobs.set(job.id, job);
  if (job.progress) state.progress.set(job.id, { ...job.progress, frames: job.frames || 0 });
  renderQueue();
}

function renderQueue() {
  const live = [...state.jobs.values()].filter((j) => j.state === "queued" || j.state === "running");
  $("#queue").replaceChildren(live.length ? `${live.length} job${live.length > 1 ? "s" : ""}:` : "no job running",
    ...live.map((j) => el("a", { href: `#${j.kind === "train" ? "train" : "stylise"}/${j.id}`, text: `${j.method} ${j.state}` })));
}

function jobTitle(job) {
  const model = job.request && job.request.model;
  return model ? `${model} (${job.method})` : job.method;
}

function showJob(view, jobId) {
  state.views[view] = jobId;
  renderJobView(view);
}

function renderJobView(view) {
  const job = state.jobs.get(state.views[view]);
  const box = $(`#${view}-view`);
  if (!job) return;
  if (box.dataset.job !== job.id) {
    box.dataset.job = job.id;
    box.replaceChildren(
      el("div", { class: "job-head" }, el("h3", { text: jobTitle(job) }), el("span", { class: "state" }),
        el("button", { class: "stop", type: "button", text: "Stop", onclick: () => stopJob(job.id) }),
        el("button", { class: "resume", type: "button", text: "Resume", onclick: () => resumeJob(job.id) })),
      el("div", { class: "progress" }),
      el("p", { class: "error" }),
      el("div", { class: "pictures" },
        el("img", { class: "live", alt: "the picture so far", hidden: true }),
        el("canvas", { class: "curve", width: 520, height: 160 })),
      el("div", { class: "links" }));
    const live = box.querySelector("img.live");
    live.addEventListener("load", () => {
      // liveFrames: frames of the run (or samples of training) shown while it ran
      if (/\/(frame|sample)\.png/.test(live.src)) live.dataset.liveFrames = String(Number(live.dataset.liveFrames || 0) + 1);
      live.hidden = false;
    });
  }
  const running = job.state === "running" || job.state === "queued";
  const stateBadge = box.querySelector(".state");
  stateBadge.textContent = job.state;
  stateBadge.className = `state ${job.state}`;
  box.querySelector(".stop").hidden = !running;
  box.querySelector(".resume").hidden = !(job.kind === "train" && (job.state === "stopped" || job.state === "interrupted"));
  box.querySelector(".error").textContent = job.error || "";
  const progress = state.progress.get(job.id);
  box.querySelector(".progress").textContent = progressText(job, progress);
  const live = box.querySelector("img.live");
  let source = null;
  if (running && progress && progress.frames) {
    source = job.kind === "train" ? `/api/jobs/${job.id}/sample.png?n=${progress.frames}` : `/api/jobs/${job.id}/frame.png?n=${progress.frames}`;
  } else if (!running && job.result) {
    source = `${job.result}?v=${job.finished || 0}`;
  }
  if (source && live.getAttribute("src") !== source) live.src = source;
  const curve = curveOf(job);
  box.querySelector("canvas").hidden = !running && curve.length < 2;
  drawCurve(box.querySelector("canvas"), curve);
  const links = box.querySelector(".links");
  links.replaceChildren(...(!running && job.result ? [
    el("a", { href: `${job.result}?download=1`, download: `styx-${job.method}-${job.id}.png`, class: "download", text: "Download PNG" }),
    el("a", { href: `/api/jobs/${job.id}/settings.json`, download: `styx-${job.method}-${job.id}.json`, text: "Settings JSON" }),
    el("a", { href: "#", text: "Re-run with changes", onclick: (event) => { event.preventDefault(); rerun(job); } }),
  ] : []));
}

function progressText(job, progress) {
  if (job.state === "queued") return "waiting in the queue";
  if (job.state === "running" && progress && progress.step !== undefined) {
    const loss = progress.losses && progress.losses.total !== undefined ? `, loss ${Number(progress.losses.total).toPrecision(4)}` : "";
    return `step ${progress.step} of ${progress.total}${loss}, ${seconds(progress.seconds)}, about ${seconds(progress.eta)} left`;
  }
  if (job.state === "running") return "starting";
  const summary = job.summary || {};
  return summary.description || (summary.iterations ? `${summary.iterations} iterations, ${seconds(summary.seconds)}` : "");
}

function curveOf(job) {
  if (state.curves.has(job.id) && (job.state === "running" || !(job.history || []).length)) return state.curves.get(job.id);
  return (job.history || []).filter((h) => h.total !== undefined).map((h) => [h.step, h.total]);
}

function drawCurve(canvas, points) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  context.fillStyle = "#6b7280";
  context.font = "11px system-ui";
  if (points.length < 2) { context.fillText("loss curve", 8, 16); return; }
  const values = points.map((p) => Math.log10(Math.max(p[1], 1e-12)));
  const low = Math.min(...values), high = Math.max(...values);
  const first = points[0][0], last = points[points.length - 1][0];
  context.strokeStyle = "#3b5bdb";
  context.lineWidth = 1.5;
  context.beginPath();
  points.forEach((point, index) => {
    const x = 30 + (width - 40) * (point[0] - first) / Math.max(last - first, 1);
    const y = 10 + (height - 30) * (1 - (values[index] - low) / Math.max(high - low, 1e-9));
    if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
  context.fillText(`loss (log scale): ${points[points.length - 1][1].toPrecision(4)} at step ${last}`, 30, height - 6);
}

async function stopJob(id) {
  try { remember(await postJSON(`/api/jobs/${id}/stop`, {})); refreshViews(); } catch (problem) { say(problem.message); }
}

async function resumeJob(id) {
  try { remember(await postJSON(`/api/jobs/${id}/resume`, {})); refreshViews(); } catch (problem) { say(problem.message); }
}

async function deleteJob(id) {
  try {
    await api(`/api/jobs/${id}`, { method: "DELETE" });
    state.jobs.delete(id);
    state.compare.delete(id);
    renderHistory();
  } catch (problem) { say(problem.message); }
}

function rerun(job) {
  const request = job.request || {};
  if (job.kind === "train") {
    location.hash = "train";
    $("#train-method").value = job.method;
    state.picked.trainStyles = [...(request.styles || [])];
    if (request.content_folder) $("#content-folder").value = request.content_folder;
    onTrainMethodChange(request.form || {});
    return;
  }
  location.hash = "stylise";
  $("#method").value = request.model ? `model:${request.model}` : `method:${job.method}`;
  state.picked.content = request.content || null;
  state.picked.styles = [...(request.styles || [])];
  renderGalleries();
  onMethodChange(request.form || {});
  $("#run").dataset.parent = job.id;
  say("The form holds that run's settings: change one and Stylise again.", "info");
}

function refreshViews() {
  renderJobView("stylise");
  renderJobView("train");
  renderQueue();
  if (!$("#history").hidden) renderHistory();
}

// -- history and compare ---------------------------------------------------------------
function renderHistory() {
  const jobs = [...state.jobs.values()].sort((a, b) => b.created - a.created);
  $("#history-list").replaceChildren(...jobs.map((job) => {
    const live = job.state === "queued" || job.state === "running";
    const tick = el("input", { type: "checkbox", title: "compare", onchange: (event) => {
      if (event.target.checked) state.compare.add(job.id); else state.compare.delete(job.id);
    } });
    tick.checked = state.compare.has(job.id);
    return el("div", { class: "card", "data-id": job.id },
      job.result ? el("img", { src: `${job.result}?v=${job.finished || 0}`, alt: jobTitle(job), loading: "lazy" }) : el("img", { alt: "" }),
      el("div", {}, el("label", {}, tick, ` ${jobTitle(job)} `), el("span", { class: `state ${job.state}`, text: job.state })),
      el("div", { class: "help", text: `${new Date(job.created * 1000).toLocaleString()} ${progressText(job, state.progress.get(job.id))}` }),
      job.error ? el("div", { class: "error", text: job.error }) : null,
      el("div", { class: "actions" },
        el("a", { href: `#${job.kind === "train" ? "train" : "stylise"}/${job.id}`, text: "Open" }),
        job.result ? el("a", { href: `${job.result}?download=1`, download: "", text: "PNG" }) : null,
        el("a", { href: `/api/jobs/${job.id}/settings.json`, download: "", text: "JSON" }),
        el("button", { type: "button", text: "Re-run", onclick: () => rerun(job) }),
        live ? el("button", { type: "button", class: "stop", text: "Stop", onclick: () => stopJob(job.id) }) : null,
        job.kind === "train" && (job.state === "stopped" || job.state === "interrupted") ?
          el("button", { type: "button", text: "Resume", onclick: () => resumeJob(job.id) }) : null,
        live ? null : el("button", { type: "button", text: "Delete", onclick: () => deleteJob(job.id) })));
  }));
}

function renderComparison() {
  const jobs = [...state.compare].map((id) => state.jobs.get(id)).filter(Boolean);
  if (jobs.length < 2) { say("Tick two or more results to compare them."); return; }
  say("");
  const keys = new Set(jobs.flatMap((j) => Object.keys(j.settings || {})));
  const differing = [...keys].filter((key) => new Set(jobs.map((j) => JSON.stringify((j.settings || {})[key]))).size > 1);
  $("#comparison").replaceChildren(...jobs.map((job) => el("figure", {},
    job.result ? el("img", { src: job.result, alt: jobTitle(job) }) : el("p", { text: "no picture" }),
    el("figcaption", { text: `${jobTitle(job)}: ${progressText(job)}` }),
    el("table", {}, ...differing.map((key) => el("tr", {}, el("td", { text: key }),
      el("td", { text: JSON.stringify((job.settings || {})[key]) })))))));
}

// -- studies ---------------------------------------------------------------------------
async function loadStudies() {
  const { studies } = await api("/api/studies");
  $("#study-list").replaceChildren(...(studies.length ? studies.map((s) => el("li", {},
    el("a", { href: s.url, target: "_blank", rel: "noopener", text: s.name }), ` ${s.path}`)) :
    [el("li", { text: "No report found: run 'styx experiment NAME' in the server's folder, or start it with --studies FOLDER." })]));
}

// -- events ----------------------------------------------------------------------------
function listen() {
  const events = new EventSource("/api/events");
  let connected = false;
  events.addEventListener("hello", async (event) => {
    for (const job of JSON.parse(event.data).live) remember(job, true);
    if (connected) {  // back after a lost connection (a server restart): what changed since
      for (const job of (await api("/api/jobs")).jobs) remember(job, true);
    }
    connected = true;
    refreshViews();
  });
  events.addEventListener("job", async (event) => {
    const job = JSON.parse(event.data).job;
    if (!job) return;
    remember(job, true);
    if (job.state !== "queued" && job.state !== "running") {
      state.curves.delete(job.id);
      if (job.kind === "train" && job.state === "done") await refreshCatalogue();
    }
    refreshViews();
  });
  events.addEventListener("progress", (event) => {
    const progress = JSON.parse(event.data);
    state.progress.set(progress.id, progress);
    const job = state.jobs.get(progress.id);
    if (job && job.state === "queued") { job.state = "running"; renderQueue(); }
    if (progress.losses && progress.losses.total !== undefined) {
      if (!state.curves.has(progress.id)) state.curves.set(progress.id, []);
      state.curves.get(progress.id).push([progress.step, progress.losses.total]);
    }
    if (state.views.stylise === progress.id) renderJobView("stylise");
    if (state.views.train === progress.id) renderJobView("train");
  });
  events.addEventListener("deleted", (event) => { state.jobs.delete(JSON.parse(event.data).id); refreshViews(); });
}

async function refreshCatalogue() {
  const images = state.catalogue ? state.catalogue.images : null;
  state.catalogue = await api("/api/catalogue");
  if (images) for (const image of images) if (!state.catalogue.images.some((i) => i.id === image.id)) state.catalogue.images.push(image);
  renderMethods();
}

// -- start -----------------------------------------------------------------------------
async function start() {
  try {
    const [catalogue, history] = await Promise.all([api("/api/catalogue"), api("/api/jobs")]);
    state.catalogue = catalogue;
    for (const job of history.jobs.reverse()) remember(job);
  } catch (problem) {
    say(problem.message);
    return;
  }
  const samples = state.catalogue.images.filter((i) => i.source === "sample");
  state.picked.content = samples.find((i) => i.name.startsWith("tubingen"))?.id || null;
  state.picked.styles = samples.filter((i) => i.name.startsWith("starry")).map((i) => i.id);
  state.picked.trainStyles = [...state.picked.styles];
  renderMethods();
  onMethodChange();
  onTrainMethodChange();
  renderGalleries();
  wireUpload($("#content-upload"), $("#content-gallery"), (ids) => { state.picked.content = ids[0]; });
  wireUpload($("#style-upload"), $("#style-gallery"), (ids) => { for (const id of ids) if (!state.picked.styles.includes(id)) state.picked.styles.push(id); });
  wireUpload($("#train-style-upload"), $("#train-style-gallery"), (ids) => { state.picked.trainStyles = methodSpec($("#train-method").value)?.train_styles === "one" ? [ids[0]] : [...new Set([...state.picked.trainStyles, ...ids])]; });
  $("#method").addEventListener("change", () => onMethodChange());
  $("#train-method").addEventListener("change", () => onTrainMethodChange());
  $("#run").addEventListener("click", runStylise);
  $("#start-training").addEventListener("click", startTraining);
  $("#compare").addEventListener("click", renderComparison);
  $("#run-form").addEventListener("submit", (event) => { event.preventDefault(); runStylise(); });
  $("#train-form").addEventListener("submit", (event) => { event.preventDefault(); startTraining(); });
  window.addEventListener("hashchange", showTab);
  listen();
  loadFolders().catch((problem) => say(problem.message));
  const latest = [...state.jobs.values()].sort((a, b) => b.created - a.created);
  const lastRun = latest.find((j) => j.kind === "stylize");
  const lastTraining = latest.find((j) => j.kind === "train");
  if (lastRun) showJob("stylise", lastRun.id);
  if (lastTraining) showJob("train", lastTraining.id);
  showTab();
  document.body.dataset.ready = "1";
}

start();
