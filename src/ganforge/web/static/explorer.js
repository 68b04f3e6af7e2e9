// The latent explorer: a run's generator driven from the page. Sliders and a 2-D pad move
// chosen latent coordinates of the current sample (the picture follows the pointer);
// lerp/slerp between two samples; arithmetic on group means; a class picker.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  const N_SLIDERS = 8, RANGE = 3;
  let info = null, run = null, seed = 0, current = null, base = null;
  let A = null, B = null, groups = [[], [], []], lastInterp = null, lastArith = null;
  const stats = window.__ex = {renders: 0};
  // For photos.js (a dropped photo's projection, the discovered directions' sliders).
  window.__explorer = {
    run: () => run, current: () => current && current.slice(),
    setCurrent(z, cls) {
      if (cls !== undefined && info && info.conditional) $("ex-class").value = cls;
      base = z.slice(); current = z.slice(); syncSliders(); renderCurrent();
    },
  };

  function y() { return info && info.conditional ? Number($("ex-class").value) : undefined; }

  // One request in flight at a time; the latest wish wins (pointer moves faster than G).
  let busy = false, pending = false;
  async function renderCurrent() {
    if (busy) { pending = true; return; }
    busy = true;
    try {
      const r = await api("/api/explore/render", {run, z: [current], y: y()});
      $("ex-current").src = r.png;
      stats.renders++;
    } finally {
      busy = false;
      if (pending) { pending = false; renderCurrent(); }
    }
  }

  function buildSliders() {
    const box = $("ex-sliders");
    box.innerHTML = "";
    const n = Math.min(N_SLIDERS, info.nz);
    for (let i = 0; i < n; i++) {
      const label = el("label", {}, el("span", {}, "z"));
      const pick = el("select", {class: "coord"});
      for (let k = 0; k < info.nz; k++) pick.append(el("option", {value: k}, k));
      pick.value = i;
      const s = el("input", {type: "range", min: -RANGE, max: RANGE, step: 0.01, class: "latent-slider", "data-i": i});
      const out = el("span", {class: "small"});
      const sync = () => { s.value = current[+pick.value]; out.textContent = (+s.value).toFixed(2); };
      pick.onchange = sync;
      s.oninput = () => { current[+pick.value] = +s.value; out.textContent = (+s.value).toFixed(2); renderCurrent(); drawPad(); };
      label.append(pick, s, out);
      label.sync = sync;
      box.append(label);
    }
    for (const id of ["ex-pad-i", "ex-pad-j"]) {
      $(id).innerHTML = "";
      for (let k = 0; k < info.nz; k++) $(id).append(el("option", {value: k}, "z" + k));
    }
    $("ex-pad-i").value = 0; $("ex-pad-j").value = Math.min(1, info.nz - 1);
  }
  function syncSliders() { for (const l of $("ex-sliders").children) l.sync(); drawPad(); }

  function drawPad() {
    const c = $("ex-pad"), g = c.getContext("2d"), W = c.width;
    g.clearRect(0, 0, W, W);
    g.strokeStyle = "#ddd"; g.beginPath(); g.moveTo(W / 2, 0); g.lineTo(W / 2, W); g.moveTo(0, W / 2); g.lineTo(W, W / 2); g.stroke();
    if (!current) return;
    const i = +$("ex-pad-i").value, j = +$("ex-pad-j").value;
    g.fillStyle = "#e65100"; g.beginPath();
    g.arc((current[i] / RANGE + 1) * W / 2, (1 - current[j] / RANGE) * W / 2, 5, 0, 2 * Math.PI); g.fill();
  }
  function padMove(ev) {
    if (!current) return;
    const c = $("ex-pad"), r = c.getBoundingClientRect();
    const i = +$("ex-pad-i").value, j = +$("ex-pad-j").value;
    current[i] = RANGE * (2 * (ev.clientX - r.left) / r.width - 1);
    current[j] = RANGE * (1 - 2 * (ev.clientY - r.top) / r.height);
    syncSliders();
    renderCurrent();
  }

  async function loadSamples() {
    const box = $("ex-samples");
    box.innerHTML = "";
    const z = info.samples;
    await Promise.all(z.map(async (v, k) => {
      const img = el("img", {alt: "sample " + k, "data-k": k});
      img.onclick = () => pick(v, img);
      box.append(img);
      const r = await api("/api/explore/render", {run, z: [v], y: y()});
      img.src = r.png;
    }));
  }
  function pick(v, img) {
    base = v.slice(); current = v.slice();
    for (const t of document.querySelectorAll("#ex-samples img")) t.classList.toggle("picked", t === img);
    syncSliders();
    renderCurrent();
  }

  function showGroups() {
    $("ex-groups").textContent = groups.map((g, i) => `group ${i + 1}: ${g.length}`).join(", ");
    $("ex-ab").textContent = `A ${A ? "set" : "not set"}, B ${B ? "set" : "not set"}`;
  }

  async function download(z, name) {
    if (!z) return toast("nothing to download yet");
    saveBlob(await api("/api/explore/download", {run, z, y: y(), cols: z.length > 8 ? 4 : z.length}), name + ".zip");
  }

  async function selectRun(name) {
    run = name;
    try { info = await api(`/api/explore/info?run=${encodeURIComponent(name)}`); }
    catch (e) { $("ex-info").textContent = e.message; return; }
    $("ex-info").textContent = `nz ${info.nz} · ${info.kind} · step ${info.step} · ${info.checkpoint}`;
    $("ex-class-label").hidden = !info.conditional;
    $("ex-class").innerHTML = "";
    info.classes.forEach((c, k) => $("ex-class").append(el("option", {value: k}, c)));
    A = B = null; groups = [[], [], []]; showGroups();
    buildSliders();
    await loadSamples();
    pick(info.samples[0], document.querySelector("#ex-samples img"));
  }

  async function init(name) {
    const {runs} = await api("/api/runs");
    const sel = $("ex-run");
    sel.innerHTML = "";
    for (const r of runs) sel.append(el("option", {value: r.name}, r.name));
    sel.onchange = () => { location.hash = "#/explore/" + encodeURIComponent(sel.value); };
    if (name) sel.value = name;
    if (sel.value) await selectRun(sel.value);
  }

  $("ex-pad").onpointerdown = ev => { $("ex-pad").setPointerCapture(ev.pointerId); padMove(ev); };
  $("ex-pad").onpointermove = ev => { if (ev.buttons) padMove(ev); };
  $("ex-pad-i").onchange = $("ex-pad-j").onchange = drawPad;
  $("ex-class").onchange = async () => { await loadSamples(); renderCurrent(); };
  $("ex-resample").onclick = async () => {
    seed += 1;
    info = await api(`/api/explore/info?run=${encodeURIComponent(run)}&seed=${seed}`);
    await loadSamples();
  };
  $("ex-set-a").onclick = () => { A = current.slice(); showGroups(); };
  $("ex-set-b").onclick = () => { B = current.slice(); showGroups(); };
  [1, 2, 3].forEach(k => { $("ex-add-" + k).onclick = () => { groups[k - 1].push(current.slice()); showGroups(); }; });
  $("ex-clear-groups").onclick = () => { groups = [[], [], []]; showGroups(); };
  $("ex-interp").onclick = async () => {
    if (!A || !B) return toast("set A and B first (pick a sample, then 'Set as A'; another, 'Set as B')");
    const r = await api("/api/explore/interpolate", {run, a: A, b: B, method: $("ex-method").value, steps: +$("ex-steps").value, y: y()});
    $("ex-interp-img").src = r.png; lastInterp = r.z;
  };
  $("ex-arith").onclick = async () => {
    if (groups.some(g => !g.length)) return toast("add at least one sample to each of the three groups");
    const r = await api("/api/explore/arithmetic", {run, a: groups[0], b: groups[1], c: groups[2], y: y()});
    $("ex-arith-img").src = r.png; lastArith = r.z;
  };
  $("ex-dl-current").onclick = () => download(current && [current], "current");
  $("ex-dl-interp").onclick = () => download(lastInterp, "interpolation");
  $("ex-dl-arith").onclick = () => download(lastArith, "arithmetic");

  let shown = null;
  pages.explore = {show(name) { if (shown === null || (name && name !== run)) { shown = name; init(name); } }};
})();
