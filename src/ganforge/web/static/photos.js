// The explorer's start from a real image and its discovered directions (web/photos.py): a
// chosen or dropped photo is shrunk here (at most 512 px a side), projected by the server and
// becomes the current latent; the direction sliders move the current latent along the run's
// discovered directions (its newest `ganforge directions` file, else SeFa's), from where it
// stood when a slider was first moved.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  const ex = window.__explorer, RANGE = 3, SIDE = 512;
  let dirs = null, origin = null, amounts = [], lastSet = null;

  async function shrink(file) {
    const bmp = await createImageBitmap(file);
    const s = Math.min(1, SIDE / Math.max(bmp.width, bmp.height));
    const c = el("canvas", {width: Math.max(1, Math.round(bmp.width * s)), height: Math.max(1, Math.round(bmp.height * s))});
    const g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);  // transparency onto white, as training folders are read
    g.drawImage(bmp, 0, 0, c.width, c.height);
    return c.toDataURL("image/jpeg", 0.92);  // a photo as JPEG stays far under the request limit
  }

  async function project(file) {
    if (!file || !ex.run()) return;
    $("ex-photo-info").textContent = "projecting…";
    try {
      const r = await api("/api/explore/project", {run: ex.run(), image: await shrink(file), invert: $("ex-invert").checked});
      $("ex-photo-target").src = r.target;
      ex.setCurrent(r.z[0], r.y ? r.y[0] : undefined);
      $("ex-photo-info").textContent = ` target (left) → the current picture: RMS ${r.rms.toFixed(3)}, distance ${r.distance}`;
      window.__ex.projected = (window.__ex.projected || 0) + 1;
    } catch (e) { $("ex-photo-info").textContent = e.message; }
  }

  function moved(k, v) {
    const cur = ex.current();
    if (!cur) return;
    if (!lastSet || cur.some((c, i) => c !== lastSet[i])) { origin = cur; amounts = dirs.directions.map(() => 0); }
    amounts[k] = v;
    const z = origin.map((o, i) => o + amounts.reduce((s, a, j) => s + a * dirs.directions[j][i], 0));
    lastSet = z.slice();
    ex.setCurrent(z);
  }

  async function showDirections() {
    const box = $("ex-dir-sliders");
    box.innerHTML = "";
    try { dirs = await api("/api/explore/directions", {run: ex.run()}); }
    catch (e) { $("ex-dir-source").textContent = e.message; return; }
    $("ex-dir-source").textContent = " " + dirs.source;
    origin = lastSet = null;
    dirs.directions.forEach((d, k) => {
      const s = el("input", {type: "range", min: -RANGE, max: RANGE, step: 0.05, value: 0, class: "direction-slider", "data-k": k});
      const out = el("span", {class: "small"}, "0.00");
      s.oninput = () => { out.textContent = (+s.value).toFixed(2); moved(k, +s.value); };
      box.append(el("label", {}, el("span", {}, `d${k} (${(100 * dirs.explained[k]).toFixed(1)}%)`), s, out));
    });
  }

  $("ex-photo").onchange = () => project($("ex-photo").files[0]);
  $("ex-current").ondragover = ev => ev.preventDefault();
  $("ex-current").ondrop = ev => { ev.preventDefault(); project(ev.dataTransfer.files[0]); };
  $("ex-dirs").onclick = showDirections;
})();
