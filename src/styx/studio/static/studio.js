// The styx studio page: forms generated from /api/catalogue, jobs watched through
// /api/events (server-sent events). Plain JavaScript, no build step.
"use strict";

const state = {
  catalogue: null,          // methods, models, images
  jobs: new Map(),          // id -> job (as /api/jobs gives it)
  progress: new Map(),      // id -> latest progress event
  curves: new Map(),        // id -> [[step, loss], ...] of a live job
  picked: { content: null, clip: null, styles: [], trainStyles: [] },   // content: a photo or a clip, not both
  views: { stylise: null, train: null },   // the job each view shows
  compare: new Set(),
  compareMode: "side",      // how compared pictures are shown: side, slider or flicker
  flicker: null,            // the timer of the flicker comparison
  connection: { lost: null },   // when the event stream was lost (a Date), or null
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

// A request to the studio; a refusal throws an Error with the server's one line (and the
// option at fault, ``field``, when the server names one).
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error("Cannot reach the studio: the server may have stopped. Start it again and retry.");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const problem = new Error(body.error || `${response.status} ${response.statusText}`);
    problem.field = body.field || null;
    throw problem;
  }
  return body;
}

function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" },
                     body: JSON.stringify(body) });
}

// The banner under the header (sticky: in view wherever the page is scrolled).
function say(text, kind = "error") {
  const box = $("#message");
  box.title = "click to close";
  box.onclick = () => { box.hidden = true; };
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
  if (kind === "info" && text) setTimeout(() => { if (box.textContent === text) box.hidden = true; }, 4000);
}

// A refused request of a form: the banner, the message under the button pressed, and the
// option at fault marked and opened. Everything stays where the user is looking.
function refuse(form, button, problem) {
  say(problem.message);
  const note = button.nextElementSibling;
  note.textContent = problem.message;
  note.hidden = false;
  for (const marked of form.querySelectorAll(".field.bad")) marked.classList.remove("bad");
  const input = problem.field ? form.querySelector(`[name="${CSS.escape(problem.field)}"]`) : null;
  if (input) {
    const box = input.closest(".field");
    box.classList.add("bad");
    for (let d = box.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
  }
  reveal(note);
}

function clearRefusal(form, button) {
  button.nextElementSibling.hidden = true;
  for (const marked of form.querySelectorAll(".field.bad")) marked.classList.remove("bad");
}

// Scroll ``node`` into the window when it is not (wholly) in it: to the middle of the
// window (``center``), or its top under the header (``start``: a view that grows as the
// job's pictures arrive, so its top must be high enough to show them).
function reveal(node, block = "center") {
  const box = node.getBoundingClientRect();
  const top = $("header").getBoundingClientRect().bottom;
  const visible = block === "start" ? box.top >= top && box.top <= top + window.innerHeight * 0.25
    : box.top >= top && box.bottom <= window.innerHeight;
  if (!visible) node.scrollIntoView({ block, behavior: "instant" });
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  return value < 90 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

// A loss as the page shows it, the same figure everywhere (4 significant digits).
function lossText(value) {
  return Number(value).toPrecision(4);
}

function clock(date) {
  return date.toLocaleTimeString();
}

function methodSpec(name) {
  return state.catalogue.methods.find((m) => m.name === name);
}

function imageById(id) {
  return state.catalogue.images.find((i) => i.id === id) || null;
}

function clipById(id) {
  return (state.catalogue.clips || []).find((c) => c.id === id) || null;
}

// Whether a file the user chose is a clip (by its type or its name: the server checks it).
function isClip(file) {
  const suffixes = (state.catalogue.clip_limits || {}).suffixes || [];
  const name = file.name.toLowerCase();
  return file.type.startsWith("video/") || suffixes.some((s) => name.endsWith(s));
}

function clipText(clip) {
  return `${clip.frames} frames, ${seconds(clip.seconds)}`;
}

// -- tabs ------------------------------------------------------------------------------
function showTab() {
  const [tab, jobId] = (location.hash.slice(1) || "stylise").split("/");
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.tab === tab);
  if (jobId && state.jobs.has(jobId)) showJob(tab === "train" ? "train" : "stylise", jobId);
  if (tab === "history") renderHistory();
  if (tab === "studies") loadStudies().catch((problem) => say(problem.message));
}

// -- images ----------------------------------------------------------------------------
// ``items``: the images (and, in the content gallery, the clips first: each shows its
// first frame, marked with its length).
function renderGallery(container, pickedIds, onPick, items = state.catalogue.images) {
  container.replaceChildren(...items.map((image) => el("figure",
    { class: [pickedIds.includes(image.id) ? "picked" : "", image.kind === "clip" ? "clip" : ""].join(" ").trim() || null,
      "data-id": image.id, "data-kind": image.kind || "image", title: image.name, onclick: () => onPick(image.id, image.kind) },
    el("img", { src: image.url, alt: image.name, loading: "lazy" }),
    image.kind === "clip" ? el("span", { class: "badge", text: `▶ ${seconds(image.seconds)}`, "data-frames": image.frames }) : null,
    el("figcaption", { text: image.name }),
    image.source === "upload" ? el("button", { type: "button", class: "delete-image", title: `Delete ${image.name}`,
      "aria-label": `Delete ${image.name}`, text: "×",
      onclick: (event) => { event.stopPropagation(); if (image.kind === "clip") deleteClip(image); else deleteImage(image); } }) : null)));
}

// The content: a photo or a clip (``kind`` "clip"), never both.
function pickContent(id, kind) {
  if (kind === "clip") { state.picked.clip = id; state.picked.content = null; }
  else { state.picked.content = id; state.picked.clip = null; }
}

function renderGalleries() {
  // the content photo is one: a click picks it, a second click keeps it
  const content = state.picked.clip || state.picked.content;
  renderGallery($("#content-gallery"), content ? [content] : [], (id, kind) => {
    pickContent(id, kind);
    renderGalleries();
    schedulePreview();
  }, [...(state.catalogue.clips || []), ...state.catalogue.images]);
  renderClipNote();
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

async function deleteImage(image) {
  if (!window.confirm(`Delete ${image.name} from the studio? Results made from it are kept.`)) return;
  try {
    await api(`/api/images/${image.id}`, { method: "DELETE" });
  } catch (problem) {
    say(problem.message);
    return;
  }
  state.catalogue.images = state.catalogue.images.filter((i) => i.id !== image.id);
  if (state.picked.content === image.id) state.picked.content = null;
  state.picked.styles = state.picked.styles.filter((id) => id !== image.id);
  state.picked.trainStyles = state.picked.trainStyles.filter((id) => id !== image.id);
  renderGalleries();
  say(`Deleted ${image.name}.`, "info");
}

async function deleteClip(clip) {
  if (!window.confirm(`Delete the clip ${clip.name} from the studio? Videos made from it are kept.`)) return;
  try {
    await api(`/api/clips/${clip.id}`, { method: "DELETE" });
  } catch (problem) {
    say(problem.message);
    return;
  }
  state.catalogue.clips = state.catalogue.clips.filter((c) => c.id !== clip.id);
  if (state.picked.clip === clip.id) state.picked.clip = null;
  renderGalleries();
  say(`Deleted ${clip.name}.`, "info");
}

// Upload ``files``: pictures to /api/images, clips (where ``clips`` allows them) to
// /api/clips. Returns what was added, as [{id, kind}].
async function upload(files, clips = false) {
  const added = [];
  for (const file of files) {
    const clip = isClip(file);
    if (clip && !clips) { say(`${file.name} is a video: a style must be a picture.`); continue; }
    const form = new FormData();
    form.append("file", file, file.name);
    if (clip) say(`Uploading ${file.name}...`, "info");
    try {
      const item = await api(clip ? "/api/clips" : "/api/images", { method: "POST", body: form });
      const list = clip ? state.catalogue.clips : state.catalogue.images;
      if (!list.some((i) => i.id === item.id)) list.unshift(item);
      added.push({ id: item.id, kind: clip ? "clip" : "image" });
    } catch (problem) {
      say(problem.message);
    }
  }
  return added;
}

function wireUpload(input, gallery, pick, clips = false) {
  const take = async (files) => {
    const added = await upload(files, clips);
    if (added.length) { say(""); pick(added); renderGalleries(); schedulePreview(); }
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
// The method's own options and its styles' are shown open; the shared bundles (the loss,
// the optimiser, where it runs) are folded away under "Advanced options".
const MAIN_PANELS = ["Options", "Styles"];

function buildForm(form, options, values = {}) {
  const panels = new Map();
  for (const option of options) {
    const panel = option.panel || "Options";
    if (!panels.has(panel)) panels.set(panel, []);
    panels.get(panel).push(option);
  }
  const rank = (name) => (MAIN_PANELS.includes(name) ? MAIN_PANELS.indexOf(name) : name === "Runtime" ? 9 : 5);
  const sorted = [...panels].sort((a, b) => rank(a[0]) - rank(b[0]));
  const panel = ([name, fields]) => el("details", { open: MAIN_PANELS.includes(name) ? true : null, "data-panel": name },
    el("summary", { text: name }), ...fields.map((option) => field(option, values[option.name])));
  const main = sorted.filter(([name]) => MAIN_PANELS.includes(name)).map(panel);
  const advanced = sorted.filter(([name]) => !MAIN_PANELS.includes(name)).map(panel);
  form.replaceChildren(...main, advanced.length ? el("details", { class: "advanced" },
    el("summary", { text: "Advanced options" }), ...advanced) : null);
}

function defaultText(option) {
  if (option.default_text) return option.default_text;
  const value = option.default;
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}=${v}`).join(",");
  return String(value);
}

// An option's name for people: the label the server gives (from the config's help), else
// its field name in words. The command-line flag is shown small beside it, for scripts.
function labelOf(option) {
  if (option.label) return option.label;
  const words = option.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function field(option, value) {
  const id = `option-${option.name}-${Math.random().toString(36).slice(2, 8)}`;
  // a help that only repeats the label is not shown twice
  const repeats = option.help.replace(/\.$/, "") === labelOf(option);
  const help = repeats ? null : el("p", { class: "help", text: option.help });
  const flag = el("code", { class: "flag", text: option.flag });
  if (option.kind === "flag") {
    const box = el("input", { type: "checkbox", id, name: option.name, "data-default": String(Boolean(option.default)) });
    box.checked = value === undefined ? Boolean(option.default) : Boolean(value);
    return el("div", { class: "field flag" }, el("label", { for: id }, box, el("span", { text: labelOf(option) }), flag), help);
  }
  const attributes = { id, name: option.name, placeholder: defaultText(option), "data-kind": option.kind,
                       autocomplete: "off", spellcheck: "false" };
  const input = option.kind === "list" ? el("textarea", { ...attributes, rows: 2 }) : el("input", { ...attributes, type: "text" });
  if (value !== undefined && value !== null) input.value = Array.isArray(value) ? value.join("\n") : String(value);
  return el("div", { class: "field" },
    el("label", { for: id }, el("span", { text: labelOf(option) + (option.required ? " (required)" : "") }), flag), input, help);
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
  renderClipNote();
}

// The video options of a clip's run (the server's "video" object), shown while a clip is
// the content.
const CLIP_OPTIONS = [{
  name: "temporal", kind: "float", panel: "Video", label: "Steadier video", flag: "--temporal", default: null,
  default_text: "off", required: false,
  help: "Blend this much (0 to 1, e.g. 0.6) of the previous frame's result, warped by optical flow, into each frame: less flicker.",
}];

function buildClipForm(values = {}) {
  $("#clip-form").replaceChildren(el("details", { open: true, "data-panel": "Video" }, el("summary", { text: "Video" }),
    ...CLIP_OPTIONS.map((option) => field(option, values[option.name]))));
}

// While a clip is the content: what it is, what runs it, and its video options.
function renderClipNote() {
  const clip = clipById(state.picked.clip);
  const note = $("#clip-note");
  $("#clip-form").hidden = !clip;
  note.hidden = !clip;
  if (!clip) return;
  const { model } = chosenRun();
  const limits = state.catalogue.clip_limits || {};
  note.replaceChildren(`Clip ${clip.name}: ${clip.width} × ${clip.height}, ${clipText(clip)}${clip.audio ? ", with sound (kept)" : ""}. `,
    model ? `Each frame goes through ${model.name}; the result is a video.` :
      el("strong", { text: "A clip is stylised by a trained model: choose one under Trained models." }),
    limits.frames ? ` (Clips of up to ${limits.frames} frames and ${limits.mib} MiB.)` : "");
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
    const blob = await postJSON("/api/preview", { model: model.name, content: state.picked.content, clip: state.picked.clip, size: 160, options: { style_mix: mix } });
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
  // the refusal may name an option of the run's form or of the clip's
  const form = $("#stylise .controls"), button = $("#run");
  const { model, spec } = chosenRun();
  const options = formValues($("#run-form"));
  const mix = styleMix();
  if (mix && !options.style && !options.style_mix) options.style_mix = mix;
  const body = { kind: "stylize", content: state.picked.content, options, parent: button.dataset.parent || null };
  if (state.picked.clip) Object.assign(body, { content: null, clip: state.picked.clip, video: formValues($("#clip-form")) });
  if (model) body.model = model.name; else body.method = spec.name;
  if (takesStyles({ model, spec })) body.styles = state.picked.styles;
  clearRefusal(form, button);
  try {
    const job = await postJSON("/api/jobs", body);
    say("");
    remember(job);
    delete button.dataset.parent;
    openJob("stylise", job.id);
  } catch (problem) {
    refuse(form, button, problem);
  }
}

// Show job ``jobId`` in ``view`` and bring that view into the window: the user pressed a
// button at the end of a long form and must see the job start.
function openJob(view, jobId) {
  location.hash = `${view}/${jobId}`;
  showJob(view, jobId);
  reveal($(`#${view}-view`), "start");
}

// -- train -----------------------------------------------------------------------------
async function loadFolders() {
  const { roots, folders, default: preferred } = await api("/api/folders");
  const select = $("#content-folder");
  select.replaceChildren(el("option", { value: "", text: "(none: a texture, no photos)" }),
    ...folders.map((f) => el("option", { value: f.id, text: `${f.path} (${f.images} image${f.images === 1 ? "" : "s"} here)` })));
  // the folder with photos in it, never a root of none
  const withImages = [...folders].sort((a, b) => b.images - a.images).find((f) => f.images > 0);
  select.value = preferred || (withImages ? withImages.id : "");
  $("#folder-help").textContent = roots.length ? "Folders under the server's allowed folders (--allow-dir), three levels deep." :
    "The server reads no folder of yours: start it with 'styx serve --allow-dir FOLDER' to train on photos.";
}

function onTrainMethodChange(values = {}) {
  const spec = methodSpec($("#train-method").value);
  if (!spec) return;
  buildForm($("#train-form"), spec.train_options, values);
  if (spec.train_styles === "one") state.picked.trainStyles = state.picked.trainStyles.slice(0, 1);
  renderGalleries();
}

async function startTraining() {
  const form = $("#train-form"), button = $("#start-training");
  const body = { kind: "train", method: $("#train-method").value, styles: state.picked.trainStyles,
                 content_folder: $("#content-folder").value || null, options: formValues(form) };
  clearRefusal(form, button);
  try {
    const job = await postJSON("/api/jobs", body);
    say("");
    remember(job);
    openJob("train", job.id);
  } catch (problem) {
    refuse(form, button, problem);
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

function isLive(job) {
  return job.state === "queued" || job.state === "running";
}

function renderQueue() {
  const live = [...state.jobs.values()].filter(isLive);
  $("#queue").replaceChildren(live.length ? `${live.length} job${live.length > 1 ? "s" : ""}:` : "no job running",
    ...live.map((j) => el("a", { href: `#${j.kind === "train" ? "train" : "stylise"}/${j.id}`, text: `${j.method} ${j.state}` })));
}

function jobTitle(job) {
  const model = job.request && job.request.model;
  return model ? `${model} (${job.method})` : job.method;
}

// What a job was made from, as small pictures: its photo and its style images (a deleted
// image is named, not fetched), its model, its content folder.
function inputsOf(job) {
  const request = job.request || {};
  const thumb = (id, role) => {
    const image = imageById(id);
    return image ? el("img", { src: image.url, alt: `${role}: ${image.name}`, title: `${role}: ${image.name}`, loading: "lazy", "data-role": role })
      : el("span", { class: "gone", text: `${role}: deleted` });
  };
  const parts = [];
  if (request.content) parts.push(thumb(request.content, "photo"));
  if (request.clip) {
    const clip = clipById(request.clip);
    parts.push(clip ? el("img", { src: clip.url, alt: `clip: ${clip.name}`, title: `clip: ${clip.name} (${clipText(clip)})`, loading: "lazy", "data-role": "clip" })
      : el("span", { class: "gone", text: "clip: deleted" }));
  }
  for (const id of request.styles || []) parts.push(thumb(id, "style"));
  if (request.model) parts.push(el("span", { class: "tag", text: `model ${request.model}` }));
  if (request.content_folder) parts.push(el("span", { class: "tag", text: "photo folder" }));
  return el("div", { class: "inputs" }, ...parts);
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
      inputsOf(job),
      el("div", { class: "progress" }),
      el("p", { class: "error", role: "alert" }),
      el("div", { class: "pictures" },
        el("img", { class: "live", alt: "the picture so far", hidden: true }),
        el("video", { class: "result-video", controls: true, playsinline: true, loop: true, preload: "metadata", hidden: true }),
        el("canvas", { class: "curve", width: 520, height: 160 })),
      el("div", { class: "links" }));
    const live = box.querySelector("img.live");
    live.addEventListener("load", () => {
      // liveFrames: frames of the run (or samples of training) shown while it ran
      if (/\/(frame|sample)\.png/.test(live.src)) live.dataset.liveFrames = String(Number(live.dataset.liveFrames || 0) + 1);
      live.hidden = !box.querySelector("video.result-video").hidden;  // a clip's video, once there, stands alone
    });
  }
  const running = isLive(job);
  const stateBadge = box.querySelector(".state");
  stateBadge.textContent = job.state;
  stateBadge.className = `state ${job.state}`;
  box.querySelector(".stop").hidden = !running;
  box.querySelector(".resume").hidden = !(job.kind === "train" && (job.state === "stopped" || job.state === "interrupted"));
  box.querySelector(".error").textContent = job.error || "";
  const progress = state.progress.get(job.id);
  box.querySelector(".progress").textContent = progressText(job, progress);
  box.classList.toggle("offline", running && Boolean(state.connection.lost));
  const live = box.querySelector("img.live");
  let source = null;
  if (running && progress && progress.frames) {
    source = job.kind === "train" ? `/api/jobs/${job.id}/sample.png?n=${progress.frames}` : `/api/jobs/${job.id}/frame.png?n=${progress.frames}`;
  } else if (!running && job.result) {
    source = `${job.result}?v=${job.finished || 0}`;
  }
  // a clip's video, once made, in place of its frames
  const video = box.querySelector("video.result-video");
  const playable = !running && job.video ? `${job.video}?v=${job.finished || 0}` : null;
  if (playable && video.getAttribute("src") !== playable) {
    video.poster = job.result ? `${job.result}?v=${job.finished || 0}` : "";
    video.src = playable;
  }
  video.hidden = !playable;
  if (playable) live.hidden = true;
  else if (source && live.getAttribute("src") !== source) live.src = source;
  const curve = curveOf(job);
  box.querySelector("canvas").hidden = isClipJob(job) || (!running && curve.length < 2);
  drawCurve(box.querySelector("canvas"), curve, finalLoss(job));
  const links = box.querySelector(".links");
  links.replaceChildren(...(!running && job.video ? [
    el("a", { href: `${job.video}?download=1`, download: `styx-${job.method}-${job.id}.mp4`, class: "download", text: "Download MP4" }),
  ] : !running && job.result ? [
    el("a", { href: `${job.result}?download=1`, download: `styx-${job.method}-${job.id}.png`, class: "download", text: "Download PNG" }),
  ] : []), ...(!running && (job.result || job.video) ? [
    el("a", { href: `/api/jobs/${job.id}/settings.json`, download: `styx-${job.method}-${job.id}.json`, text: "Settings JSON" }),
    el("a", { href: "#", text: "Re-run with changes", onclick: (event) => { event.preventDefault(); rerun(job); } }),
  ] : []));
}

// The loss a finished job ends with, named: a run's is the loss of the picture it kept
// (the best seen, measured after the last step), a training run's the last logged one.
function finalLoss(job) {
  const summary = job.summary || {};
  if (isLive(job)) return null;
  if (typeof summary.loss === "number") return { name: "loss of the picture kept", value: summary.loss };
  const total = (summary.final_losses || {}).total;
  if (typeof total === "number") return { name: "final training loss", value: total };
  return null;
}

function isClipJob(job) {
  return Boolean((job.request || {}).clip);
}

function progressText(job, progress) {
  const lost = state.connection.lost;
  const unit = progress && progress.unit === "frame" ? "frame" : "step";
  if (lost && isLive(job)) {
    const where = progress && progress.step !== undefined ? `: last seen at ${unit} ${progress.step} of ${progress.total}` : "";
    return `connection to the studio lost at ${clock(lost)}${where}; retrying`;
  }
  if (job.state === "queued") return "waiting in the queue";
  if (job.state === "running" && progress && progress.unit === "frame") {
    const rate = progress.fps ? `, ${progress.fps.toPrecision(3)} frames/s` : "";
    const left = progress.eta === null || progress.eta === undefined ? "estimating the time left" : `about ${seconds(progress.eta)} left`;
    return `frame ${progress.step} of ${progress.total}${rate}, ${seconds(progress.seconds)}, ${left}`;
  }
  if (job.state === "running" && isClipJob(job)) return "starting: loading the model and the first frames";
  if (job.state === "running" && progress && progress.step !== undefined) {
    const loss = progress.losses && progress.losses.total !== undefined ? `, loss ${lossText(progress.losses.total)}` : "";
    const left = progress.eta === null || progress.eta === undefined ? "estimating the time left" : `about ${seconds(progress.eta)} left`;
    return `step ${progress.step} of ${progress.total}${loss}, ${seconds(progress.seconds)}, ${left}`;
  }
  if (job.state === "running") return "starting";
  return finishedText(job);
}

function finishedText(job) {
  const summary = job.summary || {};
  const parts = [];
  if (typeof summary.frames === "number" && isClipJob(job)) {
    parts.push(summary.interrupted ? `${summary.kept} of ${summary.total} frames kept` : `${summary.frames} frames`);
    if (summary.width) parts.push(`${summary.width} × ${summary.height}`);
    if (typeof summary.fps === "number") parts.push(`${summary.fps.toPrecision(3)} frames/s`);
  }
  if (typeof summary.steps === "number") parts.push(`${summary.steps} step${summary.steps === 1 ? "" : "s"}`);
  if (typeof summary.iterations === "number") parts.push(`${summary.iterations} iterations`);
  const loss = finalLoss(job);
  if (loss) parts.push(`${loss.name} ${lossText(loss.value)}`);
  if (typeof summary.seconds === "number") {
    parts.push(`${seconds(summary.seconds)}${summary.device ? ` on ${summary.device}` : ""}${summary.precision ? ` in ${summary.precision}` : ""}`);
  }
  return parts.length ? parts.join(", ") : (summary.description || "");
}

function curveOf(job) {
  if (state.curves.has(job.id) && (isLive(job) || !(job.history || []).length)) return state.curves.get(job.id);
  return (job.history || []).filter((h) => h.total !== undefined).map((h) => [h.step, h.total]);
}

function drawCurve(canvas, points, final = null) {
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
  const caption = final ? `loss per step (log scale); ${final.name}: ${lossText(final.value)}`
    : `loss (log scale): ${lossText(points[points.length - 1][1])} at step ${last}`;
  context.fillText(caption, 30, height - 6);
  canvas.dataset.caption = caption;
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
    state.picked.trainStyles = (request.styles || []).filter(imageById);
    if (request.content_folder) $("#content-folder").value = request.content_folder;
    onTrainMethodChange(request.form || {});
    return;
  }
  location.hash = "stylise";
  $("#method").value = request.model ? `model:${request.model}` : `method:${job.method}`;
  if (request.clip && clipById(request.clip)) pickContent(request.clip, "clip");
  else if (request.content && imageById(request.content)) pickContent(request.content, "image");
  state.picked.styles = (request.styles || []).filter(imageById);
  const video = request.video || {};
  buildClipForm(video.temporal === null || video.temporal === undefined ? {} : { temporal: String(video.temporal) });
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
    const live = isLive(job);
    const tick = el("input", { type: "checkbox", title: "compare", onchange: (event) => {
      if (event.target.checked) state.compare.add(job.id); else state.compare.delete(job.id);
      $("#compare").disabled = state.compare.size < 2;
    } });
    tick.checked = state.compare.has(job.id);
    return el("div", { class: "card", "data-id": job.id },
      job.video ? el("video", { class: "result", src: `${job.video}?v=${job.finished || 0}`, controls: true, playsinline: true, loop: true,
        preload: "none", poster: job.result ? `${job.result}?v=${job.finished || 0}` : null, "aria-label": jobTitle(job) })
      : job.result ? el("img", { class: "result", src: `${job.result}?v=${job.finished || 0}`, alt: jobTitle(job), loading: "lazy" })
        : el("div", { class: "result none", text: live ? "not finished" : isClipJob(job) ? "no video" : "no picture" }),
      el("div", {}, el("label", {}, tick, ` ${jobTitle(job)} `), el("span", { class: `state ${job.state}`, text: job.state })),
      inputsOf(job),
      el("div", { class: "help", text: `${new Date(job.created * 1000).toLocaleString()}; ${progressText(job, state.progress.get(job.id))}` }),
      job.error ? el("div", { class: "error", text: job.error }) : null,
      el("div", { class: "actions" },
        el("a", { href: `#${job.kind === "train" ? "train" : "stylise"}/${job.id}`, text: "Open" }),
        job.video ? el("a", { href: `${job.video}?download=1`, download: "", text: "MP4" })
          : job.result ? el("a", { href: `${job.result}?download=1`, download: "", text: "PNG" }) : null,
        el("a", { href: `/api/jobs/${job.id}/settings.json`, download: "", text: "JSON" }),
        el("button", { type: "button", text: "Re-run", onclick: () => rerun(job) }),
        live ? el("button", { type: "button", class: "stop", text: "Stop", onclick: () => stopJob(job.id) }) : null,
        job.kind === "train" && (job.state === "stopped" || job.state === "interrupted") ?
          el("button", { type: "button", text: "Resume", onclick: () => resumeJob(job.id) }) : null,
        live ? null : el("button", { type: "button", text: "Delete", onclick: () => deleteJob(job.id) })));
  }));
  $("#compare").disabled = state.compare.size < 2;
}

// What two or more jobs differ in: their inputs (photo, style images, model, folder) and
// every setting, as rows of [name, [value per job]]; a value is text or a node.
function differences(jobs) {
  const rows = [];
  const same = (values) => new Set(values.map((v) => JSON.stringify(v ?? null))).size === 1;
  const request = (job) => job.request || {};
  const inputs = [
    ["photo", (job) => request(job).content || null, (job) => inputsOfRole(job, "photo")],
    ["clip", (job) => request(job).clip || null, (job) => (clipById(request(job).clip) || {}).name || (request(job).clip ? "deleted" : "none")],
    ["style images", (job) => request(job).styles || [], (job) => inputsOfRole(job, "style")],
    ["model", (job) => request(job).model || null, (job) => request(job).model || "none"],
    ["photo folder", (job) => request(job).content_folder || null, (job) => request(job).content_folder ? "a folder" : "none"],
  ];
  for (const [name, key, shown] of inputs) {
    if (!same(jobs.map(key))) rows.push([name, jobs.map(shown)]);
  }
  const keys = [...new Set(jobs.flatMap((j) => Object.keys(j.settings || {})))].sort();
  for (const key of keys) {
    const values = jobs.map((j) => (j.settings || {})[key]);
    if (!same(values)) rows.push([key, values.map((v) => JSON.stringify(v ?? null))]);
  }
  return rows;
}

// A job's photo ("photo") or its style images ("style") as pictures, or "none".
function inputsOfRole(job, role) {
  const { content = null, styles = [] } = job.request || {};
  const given = role === "photo" ? Boolean(content) : styles.length > 0;
  return given ? inputsOf({ request: role === "photo" ? { content } : { styles } }) : "none";
}

function renderComparison() {
  const jobs = [...state.compare].map((id) => state.jobs.get(id)).filter(Boolean);
  stopFlicker();
  if (jobs.length < 2) { say("Tick two or more results to compare them."); return; }
  say("");
  const box = $("#comparison");
  const modes = [["side", "Side by side"], ["slider", "Slider"], ["flicker", "Flicker"]];
  const pictured = jobs.filter((j) => j.result);
  const toolbar = el("div", { class: "compare-tools" },
    ...modes.map(([mode, text]) => el("button", { type: "button", class: state.compareMode === mode ? "chosen" : null,
      "data-mode": mode, text, disabled: mode !== "side" && pictured.length < 2 ? true : null,
      onclick: () => { state.compareMode = mode; renderComparison(); } })),
    el("button", { type: "button", class: "clear", text: "Clear comparison", onclick: clearComparison }));
  const rows = differences(jobs);
  const table = el("table", { class: "differences" },
    el("tr", {}, el("th", { text: "" }), ...jobs.map((job, i) => el("th", { text: `${String.fromCharCode(65 + i)}: ${jobTitle(job)}` }))),
    ...(rows.length ? rows.map(([name, values]) => el("tr", { "data-row": name }, el("td", { text: name }),
      ...values.map((value) => el("td", {}, value)))) :
      [el("tr", {}, el("td", { colspan: jobs.length + 1, text: "no difference in inputs or settings" }))]));
  const mode = pictured.length < 2 ? "side" : state.compareMode;
  box.replaceChildren(toolbar, comparedPictures(jobs, pictured, mode), table);
  box.hidden = false;
  reveal(box, "start");
}

function comparedPictures(jobs, pictured, mode) {
  const source = (job) => `${job.result}?v=${job.finished || 0}`;
  const name = (job) => `${String.fromCharCode(65 + jobs.indexOf(job))}: ${jobTitle(job)}`;
  if (mode === "slider") {
    const [a, b] = pictured;
    const top = el("img", { class: "top", src: source(a), alt: name(a) });
    const range = el("input", { type: "range", min: 0, max: 100, value: 50, "aria-label": "slide between the two pictures" });
    const clip = () => { top.style.clipPath = `inset(0 ${100 - Number(range.value)}% 0 0)`; };
    range.addEventListener("input", clip);
    clip();
    return el("div", { class: "compare-slider" },
      el("div", { class: "stack" }, el("img", { class: "bottom", src: source(b), alt: name(b) }), top),
      range, el("p", { class: "help", text: `left of the line ${name(a)}, right of it ${name(b)}` }));
  }
  if (mode === "flicker") {
    const [a, b] = pictured;
    const picture = el("img", { src: source(a), alt: name(a) });
    const caption = el("figcaption", { text: name(a) });
    let showing = 0;
    state.flicker = setInterval(() => {
      showing = 1 - showing;
      const job = showing ? b : a;
      picture.src = source(job);
      picture.alt = caption.textContent = name(job);
    }, 700);
    return el("figure", { class: "compare-flicker" }, picture, caption);
  }
  return el("div", { class: "compare-side" }, ...jobs.map((job) => el("figure", {},
    job.result ? el("img", { src: source(job), alt: name(job) }) : el("p", { text: "no picture" }),
    el("figcaption", { text: `${name(job)}: ${progressText(job)}` }))));
}

function stopFlicker() {
  if (state.flicker) clearInterval(state.flicker);
  state.flicker = null;
}

function clearComparison() {
  stopFlicker();
  state.compare.clear();
  $("#comparison").replaceChildren();
  $("#comparison").hidden = true;
  renderHistory();
}

// -- studies ---------------------------------------------------------------------------
async function loadStudies() {
  const { studies } = await api("/api/studies");
  $("#study-list").replaceChildren(...(studies.length ? studies.map((s) => el("li", {},
    el("a", { href: s.url, target: "_blank", rel: "noopener", text: s.name }), ` ${s.path}`)) :
    [el("li", { text: "No report found: run 'styx experiment NAME' in the server's folder, or start it with --studies FOLDER." })]));
}

// -- events ----------------------------------------------------------------------------
// The event stream: job states and progress as they happen. When it breaks (the server
// stopped, the network went), the page says so at once, and says when it is back.
function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("hello", async (event) => {
    for (const job of JSON.parse(event.data).live) remember(job, true);
    if (state.connection.lost) {  // back after a lost connection: what changed since
      state.connection.lost = null;
      $("body").classList.remove("offline");
      try {
        for (const job of (await api("/api/jobs")).jobs) remember(job, true);
      } catch (problem) { say(problem.message); }
      say(`Connection to the studio is back (${clock(new Date())}).`, "info");
    }
    refreshViews();
  });
  events.addEventListener("error", () => {
    if (state.connection.lost) return;
    state.connection.lost = new Date();
    document.body.classList.add("offline");
    say(`Connection to the studio lost at ${clock(state.connection.lost)}: the server may have stopped. `
        + "Retrying every 2 s; running jobs show their last known step.", "offline");
    refreshViews();
  });
  events.addEventListener("job", async (event) => {
    const job = JSON.parse(event.data).job;
    if (!job) return;
    remember(job, true);
    if (!isLive(job)) {
      state.curves.delete(job.id);
      if (job.kind === "train" && job.summary) await refreshCatalogue();
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
  const clips = state.catalogue ? state.catalogue.clips : null;
  state.catalogue = await api("/api/catalogue");
  if (images) for (const image of images) if (!state.catalogue.images.some((i) => i.id === image.id)) state.catalogue.images.push(image);
  if (clips) for (const clip of clips) if (!state.catalogue.clips.some((c) => c.id === clip.id)) state.catalogue.clips.push(clip);
  renderMethods();
}

// -- start -----------------------------------------------------------------------------
// The header's height, for what sticks under it (the banner, the job view).
function trackHeader() {
  const header = $("header");
  const set = () => document.documentElement.style.setProperty("--header", `${header.offsetHeight}px`);
  new ResizeObserver(set).observe(header);
  set();
}

async function start() {
  trackHeader();
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
  wireUpload($("#content-upload"), $("#content-gallery"), (added) => pickContent(added[0].id, added[0].kind), true);
  wireUpload($("#style-upload"), $("#style-gallery"), (added) => { for (const { id } of added) if (!state.picked.styles.includes(id)) state.picked.styles.push(id); });
  wireUpload($("#train-style-upload"), $("#train-style-gallery"), (added) => { const ids = added.map((a) => a.id); state.picked.trainStyles = methodSpec($("#train-method").value)?.train_styles === "one" ? [ids[0]] : [...new Set([...state.picked.trainStyles, ...ids])]; });
  buildClipForm();
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
