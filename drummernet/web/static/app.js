// The page: uploads with progress, the job list, the grid, note reading, playback, downloads.

import { Grid, colourOf, formatTime } from "./grid.js";
import { Player } from "./player.js";

const CLASS_NAMES = { KD: "Kick", SD: "Snare", HH: "Hi-hat", TT: "Toms", CY: "Cymbals", OT: "Other" };
// Lane names short enough for a phone's lane column.
const SHORT_NAMES = {
  KD: "kick", SD: "snare", HH_CHH: "hi-hat", HH_PHH: "pedal", HH_OHH: "open", TT_HIT: "tom 1",
  TT_MHT: "tom 2", TT_HFT: "floor", CY_RDC: "ride", CY_CRC: "crash", OT_TMB: "tamb.",
};
const FORMAT_NAMES = { mid: "MIDI", json: "JSON", csv: "CSV", wav: "WAV", musicxml: "MusicXML", svg: "SVG", pdf: "PDF" };
const HEADERS = { "X-Drummernet": "1" };
const POLL_MS = 100;

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  jobs: [],          // {key, name, id, state, error, element, ...}
  selected: null,    // a job entry
  notes: null,       // the selected job's notes as the server read them
  solo: new Set(),
  mute: new Set(),
};
window.drummernet = {
  state,
  // Times of the hits in each lane, as the grid shows them (for tests and the console).
  lanes() {
    const notes = state.notes;
    if (!notes) return {};
    const out = Object.fromEntries(notes.components.map((c) => [c, []]));
    notes.events.time.forEach((t, i) => out[notes.components[notes.events.lane[i]]].push(t));
    return out;
  },
};

const audible = (lane) => (state.solo.size ? state.solo.has(lane) : !state.mute.has(lane));
const grid = new Grid({
  scroller: $("scroller"), spacer: $("spacer"), canvas: $("canvas"),
  onSeek: (t) => player.seek(t),
});
grid.audible = audible;
const player = new Player({
  onTick: (t) => {
    grid.setPlayhead(t, player.playing);
    showClock(t);
  },
  onStop: () => { $("play").innerHTML = "&#9654;"; $("play").setAttribute("aria-label", "Play"); },
});
player.audible = audible;

// ------------------------------------------------------------------------------- messages

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.error || `${response.status} ${response.statusText}`;
  } catch (error) {
    return `${response.status} ${response.statusText}`;
  }
}

function megabytes(bytes) {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.round(bytes / 2 ** 20)} MB`;
}

// ------------------------------------------------------------------------------------ setup

async function start() {
  const response = await fetch("/api/info");
  state.info = await response.json();
  const info = state.info;
  fillSelect($("model"), info.models, info.default_model);
  fillSelect($("kit"), info.kits, info.default_kit);
  if (info.source_modes.length) {
    fillSelect($("source"), info.source_modes, info.source_modes[0]);
    $("source-option").hidden = false;
  }
  $("formats-hint").textContent =
    `${info.extensions.map((e) => e.slice(1)).join(", ")} · up to ${megabytes(info.max_upload_bytes)} each`;
  $("file").accept = ["audio/*", ...info.extensions].join(",");
  player.setKit($("kit").value);
  document.body.dataset.ready = "1";
}

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((value) => {
    const option = document.createElement("option");
    option.value = option.textContent = value;
    option.selected = value === chosen;
    return option;
  }));
}

// ---------------------------------------------------------------------------------- uploads

function addFiles(files) {
  for (const file of files) upload(file);
}

function newEntry(name) {
  const entry = { key: Math.random().toString(36).slice(2), name, id: null, state: "uploading", error: null };
  const li = document.createElement("li");
  li.className = "job";
  li.innerHTML = '<span class="name"></span><button class="remove" type="button" aria-label="Remove">&times;</button>' +
    '<progress max="1" value="0"></progress><span class="state"></span>';
  li.querySelector(".name").textContent = name;
  li.querySelector(".name").title = name;
  li.addEventListener("click", () => select(entry));
  li.querySelector(".remove").addEventListener("click", (event) => {
    event.stopPropagation();
    remove(entry);
  });
  entry.element = li;
  $("jobs").append(li);
  state.jobs.push(entry);
  $("drop").classList.add("compact");
  return entry;
}

function render(entry, text, fraction) {
  const li = entry.element;
  li.classList.toggle("error", entry.state === "error");
  li.dataset.state = entry.state;
  li.querySelector(".state").textContent = text;
  const bar = li.querySelector("progress");
  bar.hidden = entry.state === "done" || entry.state === "error";
  if (fraction === undefined) bar.removeAttribute("value");
  else bar.value = fraction;
}

function fail(entry, message) {
  entry.state = "error";
  entry.error = message;
  render(entry, message);
  showMessage(message);
}

function upload(file) {
  const entry = newEntry(file.name);
  const info = state.info;
  if (file.size > info.max_upload_bytes) {
    fail(entry, `${file.name}: larger than the ${megabytes(info.max_upload_bytes)} upload limit`);
    return;
  }
  const query = new URLSearchParams({ name: file.name, model: $("model").value });
  if (info.source_modes.length) query.set("source", $("source").value);
  query.set("adapt", $("adapt").checked ? "1" : "0");
  const request = new XMLHttpRequest();
  request.open("POST", `/api/jobs?${query}`);
  request.setRequestHeader("X-Drummernet", "1");
  request.setRequestHeader("Content-Type", "application/octet-stream");
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) {
      render(entry, `uploading ${Math.round((100 * event.loaded) / event.total)}% of ${megabytes(event.total)}`,
        event.loaded / event.total);
    }
  };
  request.onload = () => {
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (error) { /* not JSON */ }
    if (request.status !== 202) {
      fail(entry, body.error || `upload failed (${request.status})`);
      return;
    }
    entry.id = body.id;
    poll(entry, body);
  };
  request.onerror = () => fail(entry, `${file.name}: the upload failed (is the server still running?)`);
  render(entry, "uploading", 0);
  request.send(file);
}

async function poll(entry, status) {
  while (entry.id && !entry.removed) {
    entry.state = status.state;
    if (status.state === "error") {
      fail(entry, status.error);
      return;
    }
    if (status.state === "done") {
      entry.audioSeconds = status.audio_seconds;
      const warned = status.warnings.length ? ` · ${status.warnings.join("; ")}` : "";
      render(entry, `${status.notes} notes · ${formatTime(status.audio_seconds, 1)} · read in ${status.elapsed.toFixed(1)} s${warned}`);
      if (!state.selected || state.selected.state !== "done") select(entry);
      return;
    }
    const length = formatTime(status.audio_seconds, 1);
    render(entry, status.state === "queued" ? `waiting (${length} of audio)` :
      `transcribing ${length} of audio… ${status.elapsed.toFixed(0)} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const response = await fetch(`/api/jobs/${entry.id}`);
    if (!response.ok) {
      fail(entry, await errorOf(response));
      return;
    }
    status = await response.json();
  }
}

async function remove(entry) {
  entry.removed = true;
  entry.element.remove();
  state.jobs = state.jobs.filter((e) => e !== entry);
  if (state.selected === entry) {
    state.selected = null;
    state.notes = null;
    player.clear();
    $("view").hidden = true;
  }
  if (!state.jobs.length) $("drop").classList.remove("compact");
  if (entry.id) await fetch(`/api/jobs/${entry.id}`, { method: "DELETE", headers: HEADERS });
}

// ------------------------------------------------------------------------------- selection

async function select(entry) {
  if (entry.state !== "done" || state.selected === entry) return;
  player.stop();
  state.selected = entry;
  state.solo.clear();
  state.mute.clear();
  for (const e of state.jobs) e.element.classList.toggle("selected", e === entry);
  const notes = await loadNotes(entry);
  if (!notes || state.selected !== entry) return;
  if (!entry.settings) entry.settings = defaultSettings(notes);
  buildLanes(notes);
  buildSliders(notes, entry.settings);
  $("view").hidden = false;
  player.setJob(entry.id, notes.components, notes.duration);
  showNotes(notes, false);
  showMessage("");
}

function defaultSettings(notes) {
  const d = notes.defaults;
  return { relative: { ...d.relative }, threshold: d.threshold,
    onset_contrast: d.onset_contrast, decay_mask: d.decay_mask, min_gap: d.min_gap };
}

function readingQuery(entry) {
  const query = new URLSearchParams();
  const s = entry.settings;
  if (!s) return query;
  for (const [name, value] of Object.entries(s.relative)) query.set(`rel.${name}`, value.toFixed(2));
  query.set("threshold", String(s.threshold));
  for (const key of ["onset_contrast", "decay_mask", "min_gap"]) query.set(key, String(s[key]));
  return query;
}

async function loadNotes(entry) {
  const response = await fetch(`/api/jobs/${entry.id}/notes?${readingQuery(entry)}`);
  if (!response.ok) {
    showMessage(await errorOf(response));
    return null;
  }
  return response.json();
}

function showNotes(notes, keepView) {
  state.notes = notes;
  grid.setData(notes, keepView);
  player.setEvents(notes.events);
  const counts = new Array(notes.components.length).fill(0);
  for (const lane of notes.events.lane) counts[lane]++;
  document.querySelectorAll("#lanes .lane").forEach((row, i) => {
    row.querySelector(".count").textContent = counts[i];
    row.classList.toggle("silent", counts[i] === 0);
    row.dataset.count = counts[i];
  });
  const tempo = notes.tempo ? ` · ≈${Math.round(notes.tempo)} bpm` : "";
  $("summary").textContent = `${notes.events.time.length} notes${tempo}`;
  document.body.dataset.notes = String(notes.events.time.length);
  showClock(player.time());
  updateLinks();
}

function showClock(t) {
  const duration = state.notes ? state.notes.duration : 0;
  $("clock").textContent = `${formatTime(t)} / ${formatTime(duration)}`;
}

// ------------------------------------------------------------------------------------ lanes

function buildLanes(notes) {
  $("lanes").replaceChildren(...notes.components.map((code, i) => {
    const row = document.createElement("div");
    row.className = "lane";
    row.dataset.component = code;
    row.innerHTML = '<span class="dot"></span><span class="lane-name"></span><span class="lane-short"></span>' +
      '<span class="count"></span>' +
      '<button class="solo" type="button" aria-pressed="false" title="Solo">S</button>' +
      '<button class="mute" type="button" aria-pressed="false" title="Mute">M</button>';
    row.querySelector(".dot").style.background = colourOf(code);
    row.querySelector(".lane-name").textContent = notes.names[i];
    row.querySelector(".lane-short").textContent = SHORT_NAMES[code] || notes.names[i];
    row.querySelector(".lane-name").title = `${notes.names[i]} (${code})`;
    for (const [cls, set] of [["solo", state.solo], ["mute", state.mute]]) {
      const button = row.querySelector(`.${cls}`);
      button.addEventListener("click", () => {
        if (set.has(i)) set.delete(i); else set.add(i);
        button.setAttribute("aria-pressed", String(set.has(i)));
        if (player.mode === "original" && player.playing === false) {
          $("listen").value = "drums";
          player.setMode("drums");
        }
        grid.draw();
      });
    }
    return row;
  }));
}

// --------------------------------------------------------------------------------- reading

function buildSliders(notes, settings) {
  $("sliders").replaceChildren(...notes.classes.map((name) => {
    const label = document.createElement("label");
    label.className = "slider";
    label.innerHTML = '<span></span><input type="range" min="1" max="100" step="1"><output></output>';
    label.querySelector("span").textContent = CLASS_NAMES[name] || name;
    const input = label.querySelector("input");
    input.dataset.class = name;
    input.setAttribute("aria-label", `${CLASS_NAMES[name] || name} sensitivity`);
    input.value = Math.round(100 * (1 - settings.relative[name]));
    label.querySelector("output").textContent = `${input.value}%`;
    input.addEventListener("input", () => {
      label.querySelector("output").textContent = `${input.value}%`;
      state.selected.settings.relative[name] = Math.min(0.99, 1 - input.value / 100);
      reread();
    });
    return label;
  }));
  $("threshold").value = settings.threshold;
  for (const key of ["onset_contrast", "decay_mask", "min_gap"]) $(key).value = settings[key];
}

let rereadTimer = null;
function reread() {
  clearTimeout(rereadTimer);
  rereadTimer = setTimeout(async () => {
    const entry = state.selected;
    if (!entry) return;
    const notes = await loadNotes(entry);
    if (notes && state.selected === entry) {
      showNotes(notes, true);
      showMessage("");
    }
  }, 120);
}

for (const key of ["threshold", "onset_contrast", "decay_mask", "min_gap"]) {
  $(key).addEventListener("change", () => {
    const input = $(key);
    const typed = Number(input.value);
    if (!state.selected || input.value === "" || !Number.isFinite(typed)) return;
    const value = Math.min(Number(input.max), Math.max(Number(input.min), typed));
    input.value = value;
    state.selected.settings[key] = value;
    reread();
  });
}

$("reset").addEventListener("click", () => {
  if (!state.selected || !state.notes) return;
  state.selected.settings = defaultSettings(state.notes);
  buildSliders(state.notes, state.selected.settings);
  reread();
});

// ------------------------------------------------------------------------------- downloads

function updateLinks() {
  const entry = state.selected;
  if (!entry) return;
  const query = readingQuery(entry);
  const stem = entry.name.replace(/\.[^.]*$/, "");
  $("download-links").replaceChildren(...state.info.formats.map((fmt) => {
    const link = document.createElement("a");
    const q = new URLSearchParams(query);
    if (fmt === "wav") q.set("kit", $("kit").value);
    link.href = `/api/jobs/${entry.id}/download/${fmt}?${q}`;
    link.download = `${stem}.${fmt}`;
    link.dataset.format = fmt;
    link.textContent = fmt === "wav" ? `WAV (${$("kit").value})` : FORMAT_NAMES[fmt] || fmt;
    return link;
  }));
  updateChart(entry, query);
}

// The chart takes a while to engrave: it follows the controls once they rest, and the last one
// stays in view meanwhile.
// Longer recordings are engraved when asked: a chart of an hour takes minutes.
const CHART_AUTO_SECONDS = 600;
let chartTimer = null;
let chartShown = null;
function updateChart(entry, query) {
  const show = state.info.chart_formats.includes("svg");
  $("chart").hidden = !show;
  if (!show) return;
  const url = `/api/jobs/${entry.id}/chart.svg?${query}`;
  if (url === chartShown) return;
  if (state.notes.duration > CHART_AUTO_SECONDS && !entry.wantsChart) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `Engrave the chart (${formatTime(state.notes.duration, 1)} of music: this takes a while)`;
    button.addEventListener("click", () => {
      entry.wantsChart = true;
      updateChart(entry, readingQuery(entry));
    });
    $("chart-status").replaceChildren(button);
    $("chart-body").replaceChildren();
    return;
  }
  clearTimeout(chartTimer);
  $("chart-status").textContent = "engraving the chart…";
  chartTimer = setTimeout(async () => {
    const response = await fetch(url);
    if (state.selected !== entry) return;
    chartShown = url;
    if (!response.ok) {
      $("chart-status").textContent = await errorOf(response);
      $("chart-body").replaceChildren();
      return;
    }
    const image = document.createElement("img");
    image.alt = `Drum chart of ${entry.name}`;
    const frame = document.createElement("div");
    frame.className = "chart-frame";
    frame.append(image);
    image.onload = () => {
      // The chart comes as whole pages: show them down to the last line of music only.
      const used = usedHeight(image);
      frame.style.aspectRatio = `${image.naturalWidth} / ${Math.ceil(image.naturalHeight * used)}`;
      URL.revokeObjectURL(image.src);
      $("chart-body").replaceChildren(frame);
      $("chart-status").textContent = "";
    };
    image.src = URL.createObjectURL(await response.blob());
  }, chartShown && chartShown.startsWith(`/api/jobs/${entry.id}/`) ? 800 : 0);
}

// The fraction of an image's height down to its last non-white row (plus a small margin).
function usedHeight(image) {
  const width = 400;
  const height = Math.max(1, Math.round((width * image.naturalHeight) / image.naturalWidth));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.fillStyle = "#fff";
  g.fillRect(0, 0, width, height);
  g.drawImage(image, 0, 0, width, height);
  const pixels = g.getImageData(0, 0, width, height).data;
  for (let row = height - 1; row > 0; row--) {
    for (let i = row * width * 4; i < (row + 1) * width * 4; i += 4) {
      if (pixels[i] < 200 || pixels[i + 1] < 200 || pixels[i + 2] < 200) {
        return Math.min(1, (row + 12) / height);
      }
    }
  }
  return 1;
}

// ------------------------------------------------------------------------------- transport

$("play").addEventListener("click", togglePlay);
async function togglePlay() {
  if (!state.selected) return;
  if (player.playing) {
    player.pause();
    return;
  }
  $("play").innerHTML = "&#10074;&#10074;";
  $("play").setAttribute("aria-label", "Pause");
  try {
    await player.play();
  } catch (error) {
    player.onStop();
    showMessage(error.message);
  }
}
$("listen").addEventListener("change", () => player.setMode($("listen").value));
$("kit").addEventListener("change", () => {
  player.setKit($("kit").value);
  updateLinks();
});
$("zoom-in").addEventListener("click", () => grid.setZoom(grid.zoom * 1.5));
$("zoom-out").addEventListener("click", () => grid.setZoom(grid.zoom / 1.5));
$("zoom-fit").addEventListener("click", () => grid.fit());
document.addEventListener("keydown", (event) => {
  if (event.code !== "Space" || ["INPUT", "SELECT", "BUTTON", "TEXTAREA"].includes(event.target.tagName)) return;
  event.preventDefault();
  togglePlay();
});

// ---------------------------------------------------------------------------- drag and drop

const drop = $("drop");
$("choose").addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target === drop) $("file").click();
});
$("file").addEventListener("change", () => {
  addFiles($("file").files);
  $("file").value = "";
});
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
document.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) drop.classList.remove("over");
});
document.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
});
window.addEventListener("pagehide", () => {
  for (const entry of state.jobs) {
    if (entry.id) fetch(`/api/jobs/${entry.id}`, { method: "DELETE", headers: HEADERS, keepalive: true });
  }
});

start().catch((error) => showMessage(`cannot reach the drummernet server: ${error.message}`));
