// Playback: the original recording (an <audio> element streaming it from the server) and the
// notes played with a kit's one-shots in Web Audio, scheduled a little ahead of time, so lanes
// can be soloed or muted, and new note readings heard, without rendering anything on the server.

import { lowerBound } from "./grid.js";

const LOOKAHEAD = 0.15; // seconds scheduled ahead
const TICK_MS = 25;

export class Player {
  constructor({ onTick, onStop }) {
    this.onTick = onTick;
    this.onStop = onStop;
    this.ctx = null;
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.audio.addEventListener("ended", () => this.pause());
    this.mode = "original";
    this.kit = null;
    this.kits = new Map(); // kit name -> Map(component -> AudioBuffer)
    this.events = { time: [], lane: [], amplitude: [] };
    this.components = [];
    this.duration = 0;
    this.position = 0;
    this.playing = false;
    this.audible = () => true;
    this.sources = new Set();
  }

  setJob(jobId, components, duration) {
    this.stop();
    this.jobId = jobId;
    this.components = components;
    this.duration = duration;
    this.position = 0;
    this.audio.src = `/api/jobs/${jobId}/audio`;
  }

  clear() {
    this.stop();
    this.jobId = null;
    this.audio.removeAttribute("src");
    this.audio.load();
  }

  setEvents(events) {
    this.events = events;
    if (this.playing) {
      this.silence();
      this.next = lowerBound(events.time, this.time() + LOOKAHEAD);
      this.anchorAt(this.time());
    }
  }

  setKit(kit) {
    if (kit === this.kit) return;
    this.kit = kit;
    if (this.playing && this.mode !== "original") this.restart();
  }

  setMode(mode) {
    this.mode = mode;
    if (this.playing) this.restart();
  }

  ensureContext() {
    if (!this.ctx) {
      this.ctx = new AudioContext();
      // A gentle limiter: many hits at once must not clip.
      this.bus = this.ctx.createDynamicsCompressor();
      this.bus.threshold.value = -6;
      this.bus.ratio.value = 12;
      this.bus.connect(this.ctx.destination);
    }
    return this.ctx;
  }

  async loadKit(kit) {
    if (this.kits.has(kit)) return this.kits.get(kit);
    const ctx = this.ensureContext();
    const buffers = new Map();
    await Promise.all(this.components.map(async (code) => {
      const response = await fetch(`/api/kits/${encodeURIComponent(kit)}/${code}`);
      if (!response.ok) return;
      const rate = Number(response.headers.get("x-sample-rate")) || 44100;
      const samples = new Float32Array(await response.arrayBuffer());
      const buffer = ctx.createBuffer(1, Math.max(1, samples.length), rate);
      buffer.copyToChannel(samples, 0);
      buffers.set(code, buffer);
    }));
    this.kits.set(kit, buffers);
    return buffers;
  }

  time() {
    if (!this.playing) return this.position;
    if (this.mode !== "drums" && !this.audio.paused) return this.audio.currentTime;
    return this.startSong + (this.ctx.currentTime - this.startCtx);
  }

  anchorAt(songTime) {
    this.startSong = songTime;
    this.startCtx = this.ctx.currentTime + 0.03;
  }

  async play() {
    if (this.playing || !this.jobId) return;
    const ctx = this.ensureContext();
    await ctx.resume();
    if (this.position >= this.duration - 0.01) this.position = 0;
    this.buffers = this.mode === "original" ? null : await this.loadKit(this.kit);
    this.playing = true;
    this.anchorAt(this.position);
    this.next = lowerBound(this.events.time, this.position);
    if (this.mode !== "drums") {
      this.audio.currentTime = this.position;
      try {
        await this.audio.play();
      } catch (error) {
        this.playing = false;
        throw new Error("this browser cannot play the original file's format");
      }
      this.anchorAt(this.audio.currentTime);
    }
    this.timer = setInterval(() => this.schedule(), TICK_MS);
    const frame = () => {
      if (!this.playing) return;
      this.onTick(this.time());
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  schedule() {
    const now = this.time();
    if (now >= this.duration) {
      this.pause();
      this.position = this.duration;
      this.onTick(this.position);
      return;
    }
    if (this.mode === "original") return;
    if (this.mode === "both" && !this.audio.paused) {
      // Follow the media clock: re-anchor when the two drift apart (buffering, seeking).
      const drift = this.startSong + (this.ctx.currentTime - this.startCtx) - this.audio.currentTime;
      if (Math.abs(drift) > 0.04) this.anchorAt(this.audio.currentTime);
    }
    const { time, lane, amplitude } = this.events;
    const horizon = this.ctx.currentTime + LOOKAHEAD;
    for (; this.next < time.length; this.next++) {
      const when = this.startCtx + (time[this.next] - this.startSong);
      if (when > horizon) break;
      if (when < this.ctx.currentTime - 0.02 || !this.audible(lane[this.next])) continue;
      const buffer = this.buffers && this.buffers.get(this.components[lane[this.next]]);
      if (!buffer) continue;
      const source = this.ctx.createBufferSource();
      source.buffer = buffer;
      const gain = this.ctx.createGain();
      gain.gain.value = amplitude[this.next];
      source.connect(gain).connect(this.bus);
      source.start(Math.max(when, this.ctx.currentTime));
      this.sources.add(source);
      source.onended = () => this.sources.delete(source);
    }
  }

  silence() {
    for (const source of this.sources) {
      try { source.stop(); } catch (error) { /* already stopped */ }
    }
    this.sources.clear();
  }

  pause() {
    if (!this.playing) return;
    this.position = Math.min(this.time(), this.duration);
    this.playing = false;
    clearInterval(this.timer);
    this.audio.pause();
    this.silence();
    this.onStop();
  }

  stop() {
    this.pause();
    this.position = 0;
  }

  async restart() {
    const at = this.time();
    this.pause();
    this.position = at;
    await this.play();
  }

  async seek(time) {
    const wasPlaying = this.playing;
    this.pause();
    this.position = Math.max(0, Math.min(time, this.duration));
    this.onTick(this.position);
    if (wasPlaying) await this.play();
  }
}
