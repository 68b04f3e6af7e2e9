// The playground page: frames from /api/playground/stream drawn on a canvas, live curves,
// health events, and the controls that post to /api/playground/*.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  const canvas = $("pg-canvas"), ctx = canvas.getContext("2d");
  const layers = {heat: true, real: true, fake: true, manifold: true, arrows: true, centers: true};
  const charts = {
    loss: new Chart($("pg-chart-loss"), "losses", [["loss_d", "D loss"], ["loss_g", "G loss"]]),
    d: new Chart($("pg-chart-d"), "D outputs", [["d_real", "D(x)"], ["d_fake", "D(G(z))"]]),
    modes: new Chart($("pg-chart-modes"), "modes captured (PacGAN)", [["modes", "modes"]]),
    hq: new Chart($("pg-chart-hq"), "toy scores", [["high_quality", "high quality (fraction)"], ["reverse_kl", "reverse KL"]]),
  };
  // What tests and the benchmark read: frames received, their rate, the latency from the
  // server building a frame to the page having drawn it.
  const stats = window.__pg = {frames: 0, fps: 0, latency: [], step: 0, generation: -1, rows: 0, lastFrame: null, state: null, charts};
  let frame = null, drawn = [], source = null, started = false, fpsClock = [performance.now(), 0];

  function toCanvas(view) {
    const [x0, x1, y0, y1] = view, W = canvas.width, H = canvas.height;
    return [x => (x - x0) / (x1 - x0) * W, y => (y1 - y) / (y1 - y0) * H];
  }
  function fromCanvas(view, X, Y) {
    const [x0, x1, y0, y1] = view;
    return [x0 + X / canvas.width * (x1 - x0), y1 - Y / canvas.height * (y1 - y0)];
  }

  const heatCanvas = document.createElement("canvas");
  function drawHeat(h) {
    const n = h.n, v = h.v;
    heatCanvas.width = heatCanvas.height = n;
    const g = heatCanvas.getContext("2d"), img = g.createImageData(n, n);
    let lo = 0, hi = 1;
    if (h.critic) { lo = Math.min(...v); hi = Math.max(...v); if (hi - lo < 1e-9) hi = lo + 1; }
    for (let i = 0; i < n * n; i++) {
      const t = Math.min(1, Math.max(0, (v[i] - lo) / (hi - lo)));  // 1: D says real
      // orange (fake) through white to green (real)
      const r = t < 0.5 ? 255 : Math.round(255 - (t - 0.5) * 2 * 170);
      const gg = t < 0.5 ? Math.round(170 + t * 2 * 85) : Math.round(255 - (t - 0.5) * 2 * 60);
      const b = t < 0.5 ? Math.round(80 + t * 2 * 175) : Math.round(255 - (t - 0.5) * 2 * 150);
      img.data.set([r, gg, b, 150], 4 * i);
    }
    g.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(heatCanvas, 0, 0, canvas.width, canvas.height);
  }

  function dots(pts, color, r, px, py) {
    ctx.fillStyle = color;
    for (let i = 0; i < pts.length; i += 2) ctx.fillRect(px(pts[i]) - r, py(pts[i + 1]) - r, 2 * r, 2 * r);
  }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!frame) return;
    const [px, py] = toCanvas(frame.view);
    if (layers.heat) drawHeat(frame.heat);
    if (layers.real) dots(frame.real, "rgba(21,101,192,0.55)", 1.5, px, py);
    if (layers.manifold) {
      const n = frame.manifold.n, p = frame.manifold.p, m = p.length / 2 / n;
      ctx.strokeStyle = "rgba(90,90,90,0.55)"; ctx.lineWidth = 0.8; ctx.beginPath();
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {  // lines along the second coordinate
        const k = 2 * (i * n + j);
        if (j === 0) ctx.moveTo(px(p[k]), py(p[k + 1])); else ctx.lineTo(px(p[k]), py(p[k + 1]));
      }
      if (m === n) for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) {  // and along the first
        const k = 2 * (i * n + j);
        if (i === 0) ctx.moveTo(px(p[k]), py(p[k + 1])); else ctx.lineTo(px(p[k]), py(p[k + 1]));
      }
      ctx.stroke();
    }
    if (layers.fake) dots(frame.fake, "rgba(230,81,0,0.8)", 1.8, px, py);
    if (layers.arrows) {
      const a = frame.arrows, span = frame.view[1] - frame.view[0];
      let max = 1e-12;
      for (let i = 0; i < a.length; i += 4) max = Math.max(max, Math.hypot(a[i + 2], a[i + 3]));
      const k = 0.07 * span / max;
      ctx.strokeStyle = "rgba(106,27,154,0.8)"; ctx.lineWidth = 1; ctx.beginPath();
      for (let i = 0; i < a.length; i += 4) {
        const x = px(a[i]), y = py(a[i + 1]), X = px(a[i] + k * a[i + 2]), Y = py(a[i + 1] + k * a[i + 3]);
        ctx.moveTo(x, y); ctx.lineTo(X, Y);
        const ang = Math.atan2(Y - y, X - x);
        ctx.moveTo(X, Y); ctx.lineTo(X - 4 * Math.cos(ang - 0.5), Y - 4 * Math.sin(ang - 0.5));
        ctx.moveTo(X, Y); ctx.lineTo(X - 4 * Math.cos(ang + 0.5), Y - 4 * Math.sin(ang + 0.5));
      }
      ctx.stroke();
    }
    if (layers.centers && frame.centers) {
      ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.beginPath();
      for (const [x, y] of frame.centers) {
        ctx.moveTo(px(x) - 4, py(y) - 4); ctx.lineTo(px(x) + 4, py(y) + 4);
        ctx.moveTo(px(x) - 4, py(y) + 4); ctx.lineTo(px(x) + 4, py(y) - 4);
      }
      ctx.stroke();
    }
    if (drawn.length) {
      ctx.fillStyle = "#000";
      for (const [x, y] of drawn) ctx.fillRect(px(x) - 2, py(y) - 2, 4, 4);
    }
  }

  function showEvents(events) {
    const ul = $("pg-events");
    if (events.length && ul.querySelector(".muted")) ul.innerHTML = "";
    for (const e of events) {
      const li = el("li", {class: e.status});
      if (e.status === "start") {
        li.append(el("b", {}, `step ${e.step}: ${e.title}`), ` — ${e.detail || ""}`);
        if (e.explanation) li.append(el("div", {class: "small"}, e.explanation));
        if (e.remedies) li.append(el("div", {class: "small"}, "Try: " + e.remedies.join("; ")));
      } else li.append(`step ${e.step}: ${e.title} ended`);
      ul.prepend(li);
    }
  }

  function onMessage(msg) {
    const now = Date.now() / 1000;
    // a reset, or a new stream (which sends the whole history again): curves and events start over
    if (msg.state.first || msg.state.generation !== stats.generation) {
      stats.generation = msg.state.generation;
      for (const c of Object.values(charts)) c.clear();
      stats.rows = 0;
      $("pg-events").innerHTML = '<li class="muted">no condition so far</li>';
    }
    frame = msg.frame;
    stats.frames++; stats.step = msg.state.step; stats.state = msg.state; stats.rows += msg.rows.length;
    for (const c of Object.values(charts)) c.add(msg.rows);
    showEvents(msg.events);
    draw();
    stats.latency.push(1000 * (now - msg.state.t) + (performance.now() - stats._recv));
    if (stats.latency.length > 200) stats.latency.shift();
    stats.lastFrame = performance.now();
    $("pg-stepno").textContent = msg.state.step;
    $("pg-sps").textContent = msg.state.steps_per_s;
    $("pg-play").disabled = msg.state.playing;
    $("pg-pause").disabled = !msg.state.playing;
    $("pg-slow").checked = msg.state.slow;
  }

  function tick() {
    for (const c of Object.values(charts)) c.draw();
    const now = performance.now();
    if (now - fpsClock[0] >= 1000) {
      stats.fps = (stats.frames - fpsClock[1]) * 1000 / (now - fpsClock[0]);
      fpsClock = [now, stats.frames];
      $("pg-fps").textContent = stats.fps.toFixed(1);
      const lat = stats.latency.slice(-20);
      $("pg-lat").textContent = lat.length ? (lat.reduce((a, b) => a + b, 0) / lat.length).toFixed(1) : "-";
    }
    requestAnimationFrame(tick);
  }

  function connect() {
    source = new EventSource("/api/playground/stream");
    source.onmessage = ev => { stats._recv = performance.now(); onMessage(JSON.parse(ev.data)); };
  }

  function fillSettings(s) {
    for (const input of document.querySelectorAll("[data-setting]")) {
      const v = s[input.dataset.setting];
      input.value = v === null || v === undefined ? "" : v;
    }
    $("pg-data").value = s.data;
  }

  async function setting(name, value) {
    try { fillSettings(await api("/api/playground/settings", {[name]: value})); }
    catch (e) { fillSettings((await api("/api/playground")).settings); }
  }

  async function control(action) { await api("/api/playground/control", {action}); }

  async function init() {
    const s = await api("/api/playground");
    for (const o of s.objectives) $("pg-objective").append(el("option", {value: o}, o));
    for (const d of s.datasets) $("pg-data").append(el("option", {value: d}, d === "points" ? "points (drawn or uploaded)" : d));
    fillSettings(s.settings);
    for (const input of document.querySelectorAll("[data-setting]")) {
      input.onchange = () => {
        const v = input.type === "number" ? (input.value === "" ? null : Number(input.value)) : input.value;
        setting(input.dataset.setting, v);
      };
    }
    $("pg-data").onchange = () => setting("data", $("pg-data").value);
    $("pg-play").onclick = () => control("play");
    $("pg-pause").onclick = () => control("pause");
    $("pg-reset").onclick = () => control("reset");
    $("pg-step").onclick = () => control("step");
    $("pg-dstep").onclick = () => control("d_step");
    $("pg-gstep").onclick = () => control("g_step");
    $("pg-slow").onchange = () => control($("pg-slow").checked ? "slow" : "fast");
    for (const box of document.querySelectorAll("#pg-layers input")) {
      box.onchange = () => { layers[box.dataset.layer] = box.checked; draw(); };
    }
    let down = false;
    const addPoint = ev => {
      if (!$("pg-draw").checked || !frame) return;
      const r = canvas.getBoundingClientRect();
      drawn.push(fromCanvas(frame.view, ev.clientX - r.left, ev.clientY - r.top));
      $("pg-ndrawn").textContent = drawn.length;
      draw();
    };
    canvas.onpointerdown = ev => { down = true; addPoint(ev); };
    canvas.onpointermove = ev => { if (down) addPoint(ev); };
    window.addEventListener("pointerup", () => { down = false; });
    $("pg-usedrawn").onclick = async () => {
      if (drawn.length < 2) return toast("draw at least 2 points first (tick 'draw points', then drag on the plane)");
      fillSettings(await api("/api/playground/points", {points: drawn}));
      drawn = []; $("pg-ndrawn").textContent = 0; $("pg-draw").checked = false;
    };
    $("pg-cleardrawn").onclick = () => { drawn = []; $("pg-ndrawn").textContent = 0; draw(); };
    $("pg-csv").onchange = async () => {
      const f = $("pg-csv").files[0];
      if (f) fillSettings(await api("/api/playground/upload", await f.text(), true));
      $("pg-csv").value = "";
    };
    $("pg-save").onclick = async () => {
      const r = await api("/api/playground/save", {name: $("pg-name").value});
      $("pg-saved").innerHTML = "";
      $("pg-saved").append("saved ", el("a", {href: "#/runs/" + encodeURIComponent(r.run), id: "pg-saved-link"}, r.run));
    };
    connect();
    requestAnimationFrame(tick);
  }

  pages.playground = {show() { if (!started) { started = true; init(); } }};
})();
