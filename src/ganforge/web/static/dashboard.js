// The runs page: the list of runs, and up to two runs side by side (curves, fixed-noise
// grids with a step slider, health events and diagnosis, config, evaluations). A running
// run is polled for new rows.
"use strict";

(() => {
  const $ = id => document.getElementById(id);
  const PANELS = [
    ["losses", [["loss_d", "D loss"], ["loss_g", "G loss"]]],
    ["D outputs", [["d_real", "D(x)"], ["d_fake", "D(G(z))"], ["acc_real", "acc real"], ["acc_fake", "acc fake"]]],
    ["gradient norms", [["grad_d", "|grad D|"], ["grad_g", "|grad G|"]]],
    ["diversity and modes", [["diversity", "diversity / data's"], ["high_quality", "high quality"],
                             ["modes", "modes"], ["class_coverage", "classes covered"]]],
    // r_t: D's overfitting signal; p: adaptive augmentation's probability (objective.ada). Hidden
    // for runs that log neither.
    ["D overfitting and augmentation", [["ada_rt", "r_t = E[sign D(real)]"], ["ada_p", "p, augmentation"]], {optional: true}],
  ];
  const panes = window.__panes = [null, null];
  const POLL_MS = 2000;

  async function listRuns() {
    const {root, runs} = await api("/api/runs");
    $("runs-root").textContent = root;
    const tbody = document.querySelector("#runs-table tbody");
    tbody.innerHTML = "";
    if (!runs.length) tbody.append(el("tr", {}, el("td", {colspan: 6, class: "muted"}, "no runs yet: ganforge train ..., or Save as run in the playground")));
    for (const r of runs) {
      const best = r.best ? `${r.best.metric} ${fmt(r.best.value)} (step ${r.best.step})` : "-";
      const tr = el("tr", {"data-run": r.name},
        el("td", {}, el("a", {href: "#/runs/" + encodeURIComponent(r.name)}, r.name)),
        el("td", {title: r.description}, r.preset),
        el("td", {}, `${r.step}${r.steps ? " / " + r.steps : ""}`),
        el("td", {class: "status", title: r.reason || (r.stopped_by ? "stopped by " + r.stopped_by : "")},
          r.status + (r.stopped_at !== undefined ? ` at ${r.stopped_at}` : "")), el("td", {}, best),
        el("td", {}, el("button", {class: "side", onclick: () => open(r.name, 1)}, "side by side"),
          " ", el("a", {href: "#/explore/" + encodeURIComponent(r.name)}, "latents")));
      tbody.append(tr);
    }
  }

  function open(name, slot) {
    if (panes[slot]) panes[slot].close();
    panes[slot] = new RunPane($("pane-" + slot), name);
    for (const tr of document.querySelectorAll("#runs-table tr")) {
      tr.classList.toggle("selected", panes.some(p => p && p.name === tr.dataset.run));
    }
  }

  class RunPane {
    constructor(root, name) {
      this.root = root; this.name = name; this.nRows = 0; this.frames = []; this.timer = null; this.closed = false;
      root.innerHTML = "";
      this.title = el("h3", {}, name);
      const close = el("button", {onclick: () => { this.close(); root.innerHTML = ""; }}, "close");
      this.status = el("span", {class: "small"});
      root.append(el("div", {class: "bar"}, this.title, this.status, close));
      this.charts = PANELS.map(([title, series, opts = {}]) => {
        const c = el("canvas", {class: "chart", width: 540, height: 130});
        c.hidden = !!opts.optional;
        root.append(c);
        return Object.assign(new Chart(c, title, series), {optional: !!opts.optional});
      });
      this.slider = el("input", {type: "range", min: 0, max: 0, value: 0, class: "step-slider"});
      this.stepLabel = el("span", {class: "small"});
      this.img = el("img", {class: "frame", alt: "fixed-noise samples"});
      this.slider.oninput = () => this.showFrame();
      root.append(el("h3", {}, "Fixed-noise samples over time"), el("div", {class: "bar"}, this.slider, this.stepLabel), this.img);
      this.events = el("ul", {class: "events"});
      this.diagnosis = el("pre", {class: "diagnosis"});
      this.evals = el("div", {});
      this.config = el("pre", {class: "config"});
      root.append(el("h3", {}, "Health events"), this.events, el("h3", {}, "Diagnosis"), this.diagnosis,
                  el("h3", {}, "Evaluations"), this.evals, el("h3", {}, "Config"), this.config);
      this.load();
    }
    close() { this.closed = true; clearTimeout(this.timer); }
    async load() {
      let d;
      try { d = await api(`/api/run?name=${encodeURIComponent(this.name)}&since=${this.nRows}`); }
      catch (e) { this.status.textContent = " " + e.message; return; }
      if (this.closed) return;
      if (d.n_rows < this.nRows) { this.nRows = 0; for (const c of this.charts) c.clear(); }
      for (const c of this.charts) { c.add(d.rows); c.draw(); c.canvas.hidden = c.optional && !c.points(); }
      this.nRows = d.n_rows;
      const s = d.summary;
      this.status.textContent = ` ${s.preset} · step ${s.step}${s.steps ? " / " + s.steps : ""} · ${s.status}` +
        (d.checkpoint ? ` · ${d.checkpoint}` : "");
      const atEnd = this.frames.length === 0 || +this.slider.value === this.frames.length - 1;
      this.frames = d.frames;
      this.slider.max = Math.max(0, this.frames.length - 1);
      if (atEnd) this.slider.value = this.slider.max;  // follow a live run unless the user moved back
      this.showFrame();
      this.events.innerHTML = "";
      if (!d.events.length) this.events.append(el("li", {class: "muted"}, "no events"));
      for (const e of d.events) {
        const text = e.event === "rollback" ? `step ${e.step}: rolled back (${e.reason}), learning rates x${e.lr_factor}`
          : e.event === "stopped" ? `step ${e.step}: stopped by ${e.signal} (checkpoint written; train --resume continues it)`
          : e.status === "start" ? `step ${e.step}: ${e.title}: ${e.detail}` : `step ${e.step}: ${e.title} ended`;
        this.events.append(el("li", {class: e.status || ""}, text));
      }
      this.diagnosis.textContent = d.diagnosis;
      this.config.textContent = d.config_text;
      this.evals.innerHTML = "";
      if (!d.evals.length) this.evals.append(el("span", {class: "muted"}, "no evaluations (ganforge evaluate RUN, or train.eval_every)"));
      else {
        const t = el("table", {}, el("tr", {}, el("th", {}, "step"), el("th", {}, "metric"), el("th", {}, "value"), el("th", {}, "protocol")));
        for (const ev of d.evals) for (const r of ev.results) {
          t.append(el("tr", {}, el("td", {}, ev.step), el("td", {}, r.metric), el("td", {}, fmt(r.value)),
            el("td", {}, el("details", {}, el("summary", {}, "protocol"), el("pre", {}, JSON.stringify(r.protocol || r.params || {}, null, 1))))));
        }
        this.evals.append(t);
      }
      if (s.status === "running") this.timer = setTimeout(() => this.load(), POLL_MS);
    }
    showFrame() {
      const f = this.frames[+this.slider.value];
      if (!f) { this.stepLabel.textContent = "no samples yet"; this.img.removeAttribute("src"); return; }
      this.stepLabel.textContent = `step ${f.step} (${+this.slider.value + 1} of ${this.frames.length})`;
      const src = `/api/file?path=${encodeURIComponent(this.name + "/" + f.path)}`;
      if (this.img.getAttribute("src") !== src) this.img.src = src;
    }
  }

  let listed = false;
  $("runs-refresh").onclick = listRuns;
  pages.runs = {
    show(name) {
      if (!listed) { listed = true; }
      listRuns();
      if (name && (!panes[0] || panes[0].name !== name)) open(name, 0);
    },
  };
})();
