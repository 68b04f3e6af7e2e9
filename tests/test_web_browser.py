"""The workbench's pages in a real headless Chromium (the system's: apt-get install chromium),
driven by Playwright: one server and one browser for the module."""
from __future__ import annotations

import math

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (pip install playwright)")

from webutil import CHROMIUM_ARGS, ServerThread, chromium_path, runs_dir, server  # noqa: E402,F401  (fixtures)

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium "
                                "(or set GANFORGE_CHROMIUM to its path); `playwright install` cannot download one here")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Screenshots go here (GANFORGE_SCREENSHOTS to keep them)."""
    d = Path(os.environ.get("GANFORGE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    pg.goto(server.login("#/playground"))  # the printed URL: the cookie, then the page without the token
    wait(pg, "window.__pg && window.__pg.frames > 0")
    yield pg
    assert not errors, errors  # no JavaScript exception on any page, nothing the CSP blocked
    pg.close()


def js(page, expr):
    return page.evaluate(expr)


def wait(page, expr, timeout=60_000):
    """Poll ``expr`` in the page until it is true. Not page.wait_for_function: that evaluates
    a string in the page, which the server's Content-Security-Policy (no eval) refuses."""
    deadline = time.time() + timeout / 1000
    while True:
        try:
            if page.evaluate(expr):
                return
        except sync_api.Error:  # the page is navigating: ask again
            pass
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:.0f} s waiting for {expr}")
        time.sleep(0.02)


def test_play_pause_and_steps(page, server, shots):
    page.goto(server.url + "/#/playground")
    page.click("#pg-reset")
    wait(page, "window.__pg.state && window.__pg.state.step === 0 && !window.__pg.state.playing")
    page.click("#pg-play")
    wait(page, "window.__pg.step >= 30")
    frames = js(page, "window.__pg.frames")
    wait(page, f"window.__pg.frames >= {frames + 5}")  # frames keep coming while training
    page.click("#pg-pause")
    wait(page, "!window.__pg.state.playing")
    time.sleep(0.3)
    paused_at = js(page, "window.__pg.step")
    time.sleep(1.0)
    assert js(page, "window.__pg.step") == paused_at == server.playground.step  # paused: no more steps
    page.click("#pg-step")
    wait(page, f"window.__pg.step === {paused_at + 1}")
    before = js(page, "window.__pg.frames")
    page.click("#pg-dstep")  # a D step redraws D's surface; G's step count is unchanged
    wait(page, f"window.__pg.frames > {before}")
    page.click("#pg-gstep")
    wait(page, f"window.__pg.frames > {before + 1}")
    assert js(page, "window.__pg.step") == paused_at + 1
    # the canvas shows something: D's heatmap and points, not a blank plane
    png = page.locator("#pg-canvas").screenshot(path=str(shots / "playground-canvas.png"))
    assert len(set(png[200:4000])) > 20
    for layer in ("heat", "arrows"):
        page.uncheck(f'#pg-layers input[data-layer="{layer}"]')
    page.check('#pg-layers input[data-layer="heat"]')
    page.check('#pg-layers input[data-layer="arrows"]')


def test_changing_the_objective_changes_the_curves(page, server):
    page.goto(server.url + "/#/playground")
    page.click("#pg-reset")
    wait(page, "window.__pg.state.step === 0")
    page.click("#pg-play")
    wait(page, "window.__pg.charts.loss.series[0].y.length >= 5")
    page.click("#pg-pause")
    wait(page, "!window.__pg.state.playing")
    n = js(page, "window.__pg.charts.loss.series[0].y.length")
    before = js(page, "window.__pg.charts.loss.series[0].y.filter(v => v !== null)")
    page.select_option("#pg-objective", "wgan-gp")
    wait(page, "window.__pg.state.settings.objective === 'wgan-gp'")
    assert server.playground.game.obj.critic
    page.click("#pg-play")
    wait(page, f"window.__pg.charts.loss.series[0].y.length >= {n + 5}")
    page.click("#pg-pause")
    after = js(page, f"window.__pg.charts.loss.series[0].y.slice({n}).filter(v => v !== null)")
    # Non-saturating D loss is a cross-entropy that stays near 2 log 2 early on; the critic's is
    # -W + λ·GP, which starts far from it and swings widely while the critic fits (its mean over
    # a few points can land anywhere, so judge the band, not the mean).
    mean = lambda v: sum(v) / len(v)
    assert mean(before) > 1.0 and max(abs(v - 2 * math.log(2)) for v in before) < 0.5, before
    assert max(abs(v - mean(before)) for v in after) > 0.5, (before, after)
    page.select_option("#pg-objective", "nonsaturating")
    wait(page, "window.__pg.state.settings.objective === 'nonsaturating'")


def test_drawing_points_trains_on_them(page, server):
    page.goto(server.url + "/#/playground")
    wait(page, "window.__pg.frames > 0")
    page.check("#pg-draw")
    box = page.locator("#pg-canvas").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    for i in range(30):
        page.mouse.move(box["x"] + 100 + 10 * i, box["y"] + 100 + 5 * i)
    page.mouse.up()
    n = int(page.inner_text("#pg-ndrawn"))
    assert n >= 20
    page.click("#pg-usedrawn")
    wait(page, "window.__pg.state.settings.data === 'points'")
    assert server.playground.info.centers is None and server.playground.cfg.data.name == "points"
    page.click("#pg-step")
    wait(page, "window.__pg.state.step === 1")
    page.select_option("#pg-data", "ring8")
    wait(page, "window.__pg.state.settings.data === 'ring8'")


def test_a_run_and_its_step_slider(page, server, shots):
    page.goto(server.url + "/#/runs/ring8")
    page.wait_for_selector("#pane-0 img.frame[src]")
    wait(page, "document.querySelectorAll('#runs-table tbody tr').length >= 2")
    src_last = page.get_attribute("#pane-0 img.frame", "src")
    assert "step-000040" in src_last
    page.focus("#pane-0 .step-slider")
    page.keyboard.press("Home")
    wait(page, "document.querySelector('#pane-0 img.frame').src.includes('step-000010')")
    assert "step 10" in page.inner_text("#pane-0")
    page.keyboard.press("ArrowRight")
    wait(page, "document.querySelector('#pane-0 img.frame').src.includes('step-000020')")
    wait(page, "document.querySelector('#pane-0 img.frame').complete && document.querySelector('#pane-0 img.frame').naturalWidth > 0")
    page.click('#runs-table tr[data-run="digits"] button.side')  # side by side
    page.wait_for_selector("#pane-1 img.frame[src]")
    assert "digits" in page.inner_text("#pane-1 h3")
    assert "data:" in page.inner_text("#pane-0 pre.config")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)


def test_latent_slider_changes_the_image(page, server, shots):
    page.goto(server.url + "/#/explore/digits")
    wait(page, "window.__ex && window.__ex.renders >= 1 && document.querySelector('#ex-current').src.startsWith('data:')")
    first = page.get_attribute("#ex-current", "src")
    renders = js(page, "window.__ex.renders")
    page.focus("#ex-sliders input.latent-slider")
    page.keyboard.press("End")  # z0 to +3
    wait(page, f"window.__ex.renders > {renders} && document.querySelector('#ex-current').src !== {first!r}")
    # the pad moves two coordinates as the pointer moves
    renders = js(page, "window.__ex.renders")
    box = page.locator("#ex-pad").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 180, box["y"] + 150, steps=5)
    page.mouse.up()
    wait(page, f"window.__ex.renders > {renders}")
    # interpolation between two picked samples
    page.click("#ex-samples img[data-k='0']")
    page.click("#ex-set-a")
    page.click("#ex-samples img[data-k='1']")
    page.click("#ex-set-b")
    page.click("#ex-interp")
    wait(page, "document.querySelector('#ex-interp-img').src.startsWith('data:image/png')")
    for k in (1, 2, 3):
        page.click(f"#ex-add-{k}")
    page.click("#ex-arith")
    wait(page, "document.querySelector('#ex-arith-img').src.startsWith('data:image/png')")
    with page.expect_download() as dl:
        page.click("#ex-dl-interp")
    assert dl.value.suggested_filename == "interpolation.zip"
    page.screenshot(path=str(shots / "explorer.png"), full_page=True)


def test_a_running_run_updates_live(page, server, runs_dir):
    import json
    import shutil

    live = runs_dir / "live"
    live.mkdir()
    shutil.copy(runs_dir / "ring8" / "config.yaml", live / "config.yaml")
    rows = [json.loads(line) for line in (runs_dir / "ring8" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "eval" not in r]
    (live / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    try:
        page.goto(server.url + "/#/runs/live")
        wait(page, "window.__panes[0] && window.__panes[0].nRows === 3")
        assert "running" in page.inner_text("#pane-0")
        with open(live / "metrics.jsonl", "a") as f:  # the run logs two more rows
            f.writelines(json.dumps(r) + "\n" for r in rows[3:5])
        wait(page, "window.__panes[0].nRows === 5 && window.__panes[0].charts[0].series[0].y.length === 5", timeout=30_000)
    finally:
        shutil.rmtree(live)


def test_the_overfitting_panel_shows_r_t_and_p_and_hides_in_runs_without_them(page, server, runs_dir):
    import json
    import shutil

    rows = [json.loads(line) for line in (runs_dir / "ring8" / "metrics.jsonl").read_text().splitlines()]
    assert any("ada_rt" in r for r in rows)  # D's overfitting signal is logged with or without adaptive augmentation
    made = {"ada": [{**r, "ada_p": 0.1 * i} if "ada_rt" in r else r for i, r in enumerate(rows)],  # objective.ada on
            "old": [{k: v for k, v in r.items() if not k.startswith("ada_")} for r in rows]}  # a run from before r_t
    for name, its_rows in made.items():
        shutil.copytree(runs_dir / "ring8", runs_dir / name)
        (runs_dir / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in its_rows))
    chart = "window.__panes[0].charts.find(c => c.title === 'D overfitting and augmentation')"
    try:
        page.goto(server.url + "/#/runs/ada")
        wait(page, "window.__panes[0] && window.__panes[0].nRows > 0")
        rt, p = page.evaluate(f"{chart}.series.map(s => s.y.length)")
        assert p == rt == sum("ada_p" in r for r in made["ada"]) > 0
        assert page.evaluate(f"{chart}.canvas.hidden") is False
        page.goto(server.url + "/#/runs/old")
        wait(page, "window.__panes[0] && window.__panes[0].name === 'old' && window.__panes[0].nRows > 0")
        assert page.evaluate(f"{chart}.canvas.hidden") is True  # no empty panel
    finally:
        for name in made:
            shutil.rmtree(runs_dir / name)


def test_health_events_show_with_their_explanation(page, server):
    from ganforge.health import CONDITIONS

    page.goto(server.url + "/#/playground")
    wait(page, "window.__pg.frames > 0")
    pg = server.playground
    with pg.lock:  # as the monitor reports a condition starting (its own event, explanation and remedies)
        pg.events.extend(pg.session.watch.monitor._transitions(pg.step, {"mode_collapse": "samples near 2 of 8 modes"}))
    page.click("#pg-step")
    wait(page, "document.querySelector('#pg-events').innerText.includes('mode collapse')")
    text = page.inner_text("#pg-events")
    assert "samples near 2 of 8 modes" in text and CONDITIONS["mode_collapse"].explanation[:40] in text
    assert "Try:" in text


def test_save_as_run_then_open_it(page, server, runs_dir):
    page.goto(server.url + "/#/playground")
    wait(page, "window.__pg.frames > 0")
    page.click("#pg-reset")
    page.click("#pg-play")
    wait(page, "window.__pg.step >= 55")
    page.click("#pg-pause")
    page.fill("#pg-name", "from-the-page")
    page.click("#pg-save")
    page.wait_for_selector("#pg-saved-link")
    assert (runs_dir / "from-the-page" / "config.yaml").exists()
    page.click("#pg-saved-link")
    page.wait_for_selector("#pane-0 img.frame[src]")
    assert "from-the-page" in page.inner_text("#pane-0 h3")


def test_the_page_works_through_the_token(browser, runs_dir):
    s = ServerThread(runs_dir, token="tok-123")
    try:
        ctx = browser.new_context()
        pg = ctx.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        pg.goto(s.url + "/?token=tok-123#/playground")  # the printed URL; then the cookie carries it
        assert "token" not in pg.url and pg.url.endswith("/#/playground")  # out of the address bar
        wait(pg, "window.__pg && window.__pg.frames > 0")
        pg.click("#pg-step")
        wait(pg, "window.__pg.state.step === 1")
        (cookie,) = ctx.cookies()
        port = s.url.rsplit(":", 1)[1]
        assert cookie["name"] == f"ganforge_token_{port}" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert pg.evaluate("document.cookie") == ""  # the page's scripts cannot read it
        pg.goto(s.url + "/?token=stale#/runs")  # an old link: the good cookie stays, the stale token goes
        assert "token" not in pg.url
        pg.wait_for_selector("#runs-table tbody tr")
        assert not errors, errors  # nothing the Content-Security-Policy blocked
        ctx.close()
        other = browser.new_context().new_page()  # no token: refused
        other.goto(s.url + "/#/playground")
        assert "needs its token" in other.inner_text("body")
        other.close()
    finally:
        s.stop()
