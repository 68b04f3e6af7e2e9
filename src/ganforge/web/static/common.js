// Shared helpers: JSON requests that surface the server's error, a small canvas line chart,
// and the hash router that shows one page at a time.
"use strict";

async function api(path, body, raw) {
  const opts = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": raw ? "text/csv" : "application/json"},
    body: raw ? body : JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  const type = r.headers.get("Content-Type") || "";
  if (!r.ok) {
    const msg = type.includes("json") ? (await r.json()).error : await r.text();
    toast(msg);
    throw new Error(msg);
  }
  return type.includes("json") ? r.json() : r.blob();
}

let toastTimer = null;
function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.textContent = ""; }, 8000);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick" || k === "oninput" || k === "onchange") e[k] = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : (+v.toPrecision(4)).toString();
}

function saveBlob(blob, name) {
  const a = el("a", {href: URL.createObjectURL(blob), download: name});
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const COLORS = ["#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#795548"];

// A line chart over (x, y) series on a canvas: autoscaled, with a legend; null values are gaps.
class Chart {
  constructor(canvas, title, series) {
    this.canvas = canvas; this.title = title;
    this.series = series.map(([key, label], i) => ({key, label, color: COLORS[i % COLORS.length], x: [], y: []}));
    this.dirty = true;
  }
  clear() { for (const s of this.series) { s.x = []; s.y = []; } this.dirty = true; }
  add(rows, xkey = "step") {
    for (const r of rows) for (const s of this.series) {
      const v = r[s.key];
      if (v === undefined) continue;
      s.x.push(r[xkey]); s.y.push(typeof v === "number" && isFinite(v) ? v : null);
    }
    this.dirty = true;
  }
  points() { return this.series.reduce((n, s) => n + s.y.length, 0); }
  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const c = this.canvas, g = c.getContext("2d"), W = c.width, H = c.height, L = 44, R = 6, T = 16, B = 16;
    g.clearRect(0, 0, W, H);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of this.series) for (let i = 0; i < s.x.length; i++) {
      if (s.y[i] === null) continue;
      x0 = Math.min(x0, s.x[i]); x1 = Math.max(x1, s.x[i]); y0 = Math.min(y0, s.y[i]); y1 = Math.max(y1, s.y[i]);
    }
    g.font = "10px sans-serif"; g.fillStyle = "#333";
    g.fillText(this.title, L, 11);
    let lx = L + g.measureText(this.title).width + 10;
    for (const s of this.series) {
      if (!s.y.length) continue;
      g.fillStyle = s.color; g.fillText("— " + s.label, lx, 11); lx += g.measureText("— " + s.label).width + 8;
    }
    if (!isFinite(x0)) return;
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = 0.05 * (y1 - y0); y0 -= pad; y1 += pad;
    const px = x => L + (x - x0) / (x1 - x0) * (W - L - R), py = y => T + (y1 - y) / (y1 - y0) * (H - T - B);
    g.strokeStyle = "#ccc"; g.beginPath(); g.moveTo(L, T); g.lineTo(L, H - B); g.lineTo(W - R, H - B); g.stroke();
    g.fillStyle = "#555";
    g.fillText(fmt(y1), 2, T + 8); g.fillText(fmt(y0), 2, H - B); g.fillText(fmt(x0), L, H - 4);
    g.fillText(fmt(x1), W - R - g.measureText(fmt(x1)).width, H - 4);
    for (const s of this.series) {
      const stride = Math.max(1, Math.floor(s.x.length / (W - L)));  // about one point per pixel
      g.strokeStyle = s.color; g.lineWidth = 1.2; g.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i += stride) {
        if (s.y[i] === null) { pen = false; continue; }
        const X = px(s.x[i]), Y = py(s.y[i]);
        if (pen) g.lineTo(X, Y); else g.moveTo(X, Y);
        pen = true;
      }
      g.stroke();
    }
  }
}

// Pages: #/playground, #/runs[/NAME], #/explore[/NAME]
const pages = {};
function route() {
  const [, page = "playground", ...rest] = location.hash.split("/");
  const name = pages[page] ? page : "playground";
  for (const p of Object.keys(pages)) {
    document.getElementById("page-" + p).classList.toggle("active", p === name);
    document.getElementById("tab-" + p).classList.toggle("active", p === name);
  }
  pages[name].show(decodeURIComponent(rest.join("/")));
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
