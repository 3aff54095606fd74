// The drum grid: one lane per component, a dot per hit sized by its velocity, a time ruler and
// a playhead, drawn on one canvas the width of the visible part (an hour at any zoom never makes
// a huge canvas); a spacer element gives the scroll bar its length.

export const CLASS_COLOURS = {
  KD: "#d64545", SD: "#e98a15", HH: "#1f9d8b", TT: "#7b52c7", CY: "#2f6fed", OT: "#8a8f98",
};

export function colourOf(component) {
  return CLASS_COLOURS[component.split("_")[0]] || "#555";
}

const MIN_ZOOM = 4; // pixels per second
const MAX_ZOOM = 1200;
const PAD = 12; // pixels before time 0, so that a hit at the very start shows whole

export class Grid {
  constructor({ scroller, spacer, canvas, onSeek }) {
    this.scroller = scroller;
    this.spacer = spacer;
    this.canvas = canvas;
    this.onSeek = onSeek;
    this.data = null; // {duration, components, events: {time, lane, velocity}}
    this.audible = () => true;
    this.zoom = 100;
    this.playhead = 0;
    this.pending = false;
    scroller.addEventListener("scroll", () => this.draw());
    scroller.addEventListener("wheel", (event) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      const x = event.clientX - scroller.getBoundingClientRect().left;
      this.setZoom(this.zoom * Math.exp(-event.deltaY * 0.002), x);
    }, { passive: false });
    canvas.addEventListener("click", (event) => {
      if (!this.data) return;
      const x = event.clientX - canvas.getBoundingClientRect().left + scroller.scrollLeft - PAD;
      this.onSeek(Math.max(0, Math.min(this.data.duration, x / this.zoom)));
    });
    new ResizeObserver(() => this.draw()).observe(scroller);
  }

  laneHeight() {
    return parseFloat(getComputedStyle(this.scroller).getPropertyValue("--lane-h")) || 26;
  }

  rulerHeight() {
    return parseFloat(getComputedStyle(this.scroller).getPropertyValue("--ruler-h")) || 22;
  }

  setData(data, keepView) {
    const first = !this.data || !keepView;
    this.data = data;
    if (first) this.fit(true);
    else this.layout();
  }

  // The whole recording in view; with `readable`, never so tight that 16ths at 120 bpm merge
  // (the first view of a long song: it scrolls instead).
  fit(readable = false) {
    if (!this.data) return;
    const width = Math.max(100, this.scroller.clientWidth - 2 * PAD);
    const zoom = Math.min(width / Math.max(this.data.duration, 0.5), 400);
    this.setZoom(readable ? Math.max(zoom, 40) : zoom, 0);
    this.scroller.scrollLeft = 0;
  }

  setZoom(zoom, anchorX = this.scroller.clientWidth / 2) {
    const time = (this.scroller.scrollLeft + anchorX) / this.zoom;
    this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    this.layout();
    this.scroller.scrollLeft = time * this.zoom - anchorX;
    this.draw();
  }

  layout() {
    if (!this.data) return;
    this.spacer.style.width = `${Math.ceil(this.data.duration * this.zoom) + 2 * PAD}px`;
    this.draw();
  }

  setPlayhead(time, follow) {
    this.playhead = time;
    if (follow && this.data) {
      const x = time * this.zoom + PAD - this.scroller.scrollLeft;
      const width = this.scroller.clientWidth;
      if (x < 0 || x > width - 40) this.scroller.scrollLeft = time * this.zoom + PAD - width * 0.2;
    }
    this.draw();
  }

  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paint();
    });
  }

  paint() {
    const data = this.data;
    if (!data) return;
    const laneH = this.laneHeight();
    const rulerH = this.rulerHeight();
    const width = this.scroller.clientWidth;
    const height = rulerH + laneH * data.components.length;
    const ratio = window.devicePixelRatio || 1;
    const canvas = this.canvas;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = this.scroller.scrollLeft;
    const t0 = (left - PAD) / this.zoom;
    const t1 = (left + width) / this.zoom;
    const xOf = (t) => t * this.zoom + PAD - left;

    // Lanes, with beat-free second ticks: the ruler is in seconds (no tempo grid is assumed).
    for (let i = 0; i < data.components.length; i++) {
      g.fillStyle = i % 2 ? "#fafbfc" : "#ffffff";
      g.fillRect(0, rulerH + i * laneH, width, laneH);
    }
    const step = niceStep(70 / this.zoom);
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (let t = Math.max(0, Math.floor(t0 / step) * step); t <= t1; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      g.strokeStyle = "#e6e9ee";
      g.beginPath();
      g.moveTo(x, rulerH);
      g.lineTo(x, height);
      g.stroke();
      g.strokeStyle = "#98a2b3";
      g.beginPath();
      g.moveTo(x, rulerH - 6);
      g.lineTo(x, rulerH);
      g.stroke();
      g.fillStyle = "#667085";
      g.fillText(formatTime(t, step), x + 3, rulerH / 2);
    }
    g.strokeStyle = "#dde1e7";
    g.beginPath();
    g.moveTo(0, rulerH - 0.5);
    g.lineTo(width, rulerH - 0.5);
    g.stroke();
    const end = xOf(data.duration);
    if (end < width) {
      g.fillStyle = "#eef0f3";
      g.fillRect(end, rulerH, width - end, height - rulerH);
    }

    // Hits: binary search for the visible range (events are sorted by time).
    const { time, lane, velocity } = data.events;
    // Dots shrink when zoomed out, so that neighbouring 16ths stay apart.
    const maxR = Math.max(4, Math.min(this.zoom * 0.06, laneH * 0.42, 11));
    let i = lowerBound(time, t0 - maxR / this.zoom);
    for (; i < time.length && time[i] <= t1 + maxR / this.zoom; i++) {
      const component = data.components[lane[i]];
      const r = 2 + (maxR - 2) * (velocity[i] / 127);
      const y = rulerH + lane[i] * laneH + laneH / 2;
      g.globalAlpha = this.audible(lane[i]) ? 0.35 + 0.65 * (velocity[i] / 127) : 0.18;
      g.fillStyle = colourOf(component);
      g.beginPath();
      g.arc(xOf(time[i]), y, r, 0, 2 * Math.PI);
      g.fill();
    }
    g.globalAlpha = 1;

    const x = Math.round(xOf(this.playhead)) + 0.5;
    if (x >= 0 && x <= width) {
      g.strokeStyle = "#111827";
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, height);
      g.stroke();
      g.lineWidth = 1;
    }
  }
}

export function lowerBound(sorted, value) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function niceStep(seconds) {
  for (const step of [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) {
    if (step >= seconds) return step;
  }
  return 1200;
}

export function formatTime(t, step = 0.1) {
  const minutes = Math.floor(t / 60);
  const seconds = t - minutes * 60;
  const digits = step < 0.1 ? 2 : step < 1 ? 1 : 0;
  const text = seconds.toFixed(digits).padStart(digits ? 3 + digits : 2, "0");
  return `${minutes}:${text}`;
}
