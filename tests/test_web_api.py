"""ganforge serve's HTTP API without a browser: every endpoint's errors, the path gate,
upload limits, the token off loopback, saving a playground run that the CLI accepts, and a
clean stop."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from webutil import ServerThread, call, runs_dir, server, start_serve  # noqa: E402,F401  (fixtures)

from ganforge.web import runs_view  # noqa: E402


def wait_for(pred, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("path, body, status, words", [
    ("/api/playground/control", {"action": "jump"}, 400, "unknown action 'jump'"),
    ("/api/playground/control", {}, 400, "action"),
    ("/api/playground/control", [1, 2], 400, "expected a JSON object"),
    ("/api/playground/settings", {"lr_d": -1}, 400, "optim.lr_d"),
    ("/api/playground/settings", {"objective": "nope"}, 400, "unknown objective 'nope'"),
    ("/api/playground/settings", {"colour": 1}, 400, "unknown setting 'colour'"),
    ("/api/playground/settings", {"batch": "many"}, 400, "batch"),
    ("/api/playground/settings", {"width": 100000}, 400, "width"),
    ("/api/playground/settings", {"data": "mnist"}, 400, "2-D points"),
    ("/api/playground/settings", {}, 400, "settings"),
    ("/api/playground/points", {"points": [[0, 0]]}, 400, "points"),
    ("/api/playground/points", {"points": [[0, "a"], [1, 1]]}, 400, "[x, y] number pairs"),
    ("/api/playground/points", {"points": "lots"}, 400, "points"),
    ("/api/playground/save", {"name": "../escape"}, 400, "name"),
    ("/api/explore/render", {"z": [[0.0]]}, 400, "run"),
    ("/api/explore/render", {"run": "nope", "z": [[0.0]]}, 404, "run 'nope'"),
    ("/api/explore/render", {"run": "../..", "z": [[0.0]]}, 403, "'..'"),
    ("/api/explore/render", {"run": "digits", "z": [[0.0, 1.0]]}, 400, "nz is 8"),
    ("/api/explore/render", {"run": "digits", "z": "abc"}, 400, "latent vectors"),
    ("/api/explore/interpolate", {"run": "digits", "a": [0.0] * 8, "b": [1.0] * 8, "steps": 1}, 400, "steps"),
    ("/api/explore/interpolate", {"run": "digits", "a": [0.0] * 8, "b": [1.0] * 8, "method": "cubic"}, 400, "cubic"),
    ("/api/explore/arithmetic", {"run": "digits", "a": [], "b": [[0.0] * 8], "c": [[0.0] * 8]}, 400, "latent vectors"),
    ("/api/explore/download", {"run": "digits", "z": [[0.0] * 8] * 300}, 400, "1 to 256"),
    ("/api/explore/download", {"run": "digits"}, 400, "z: expected"),
])
def test_malformed_requests_get_a_json_error_that_names_the_problem(server, path, body, status, words):
    got, payload = call(server.url + path, body)
    assert got == status, payload
    assert words in payload["error"], payload
    assert call(server.url + "/api/playground")[0] == 200  # and the server keeps running


@pytest.mark.parametrize("path, status, words", [
    ("/api/nothing", 404, "Not Found"),
    ("/api/run", 400, "missing query parameter 'name'"),
    ("/api/run?name=nope", 404, "run 'nope'"),
    ("/api/run?name=ring8&since=-1", 400, "since"),
    ("/api/file", 400, "'path'"),
    ("/api/file?path=ring8/missing.png", 404, "no such file"),
    ("/api/file?path=ring8/checkpoints/step-000040.pt", 403, "only pictures, text and arrays"),
    ("/api/explore/info", 400, "'run'"),
    ("/api/explore/info?run=nope", 404, "run 'nope'"),
])
def test_get_errors(server, path, status, words):
    got, payload = call(server.url + path)
    assert got == status and words in payload["error"], payload


def test_non_finite_latents(server):
    raw = b'{"run": "digits", "z": [[NaN, 0, 0, 0, 0, 0, 0, Infinity]]}'  # Python's JSON reads these
    got, payload = call(server.url + "/api/explore/render", raw=raw)
    assert got == 400 and "finite" in payload["error"]


def test_requests_a_cross_site_page_could_send_are_refused(server):
    # text/plain is what a form on another site can POST without a CORS preflight
    got, payload = call(server.url + "/api/playground/control", raw=b'{"action": "play"}', headers={"Content-Type": "text/plain"})
    assert got == 415 and "application/json" in payload["error"] and not server.playground.playing
    got, payload = call(server.url + "/api/playground/upload", raw=b"x,y\n0,0\n1,1\n", headers={"Content-Type": "text/plain"})
    assert got == 415 and "text/csv" in payload["error"]
    # a page whose name was rebound to 127.0.0.1 sends its own Host
    got, payload = call(server.url + "/api/runs", headers={"Host": "evil.example:8765"})
    assert got == 403 and "localhost, 127.0.0.1" in payload["error"]
    assert call(server.url.replace("127.0.0.1", "localhost") + "/api/runs", headers=server.headers)[0] == 200


def test_wrong_method_and_bad_json(server):
    got, payload = call(server.url + "/api/playground/control")  # GET on a POST route
    assert got == 405 and "Method Not Allowed" in payload["error"]
    got, payload = call(server.url + "/api/playground/settings", raw=b"{nope")
    assert got == 400 and "not valid JSON" in payload["error"]


# ------------------------------------------------------------------------------ the path gate

@pytest.mark.parametrize("path", ["../x.png", "ring8/../../x.png", "/etc/passwd", "%2Fetc%2Fpasswd", "ring8\\..\\x.png",
                                  "..%2F..%2Fetc%2Fpasswd"])
def test_traversal_and_absolute_paths_are_refused(server, path):
    got, payload = call(f"{server.url}/api/file?path={path}")
    assert got == 403, payload
    assert "refused" in payload["error"] or "outside" in payload["error"]


def test_a_symlink_out_of_the_runs_directory_is_refused(server, runs_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (runs_dir / "ring8" / "link.txt").symlink_to(secret)
    (runs_dir / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    try:
        for rel in ("ring8/link.txt", "elsewhere/secret.txt"):
            got, payload = call(f"{server.url}/api/file?path={rel}")
            assert got == 403 and "outside the runs directory" in payload["error"]
        assert call(f"{server.url}/api/file?path=ring8/config.yaml")[0] == 200  # inside: served
    finally:
        (runs_dir / "ring8" / "link.txt").unlink()
        (runs_dir / "elsewhere").unlink()


def test_inside_unit(tmp_path):
    (tmp_path / "a").mkdir()
    assert runs_view.inside(tmp_path, "a") == (tmp_path / "a").resolve()
    for bad in ("", "..", "a/../..", "/abs", "C:/x", "a\\b", "a\x00b"):
        with pytest.raises(runs_view.Forbidden):
            runs_view.inside(tmp_path, bad)


# ------------------------------------------------------------------------------ uploads

def test_oversized_uploads_are_refused(server):
    from ganforge.web.gates import MAX_JSON, MAX_UPLOAD

    big_csv = b"1,2\n" * (MAX_UPLOAD // 4 + 10)
    got, payload = call(server.url + "/api/playground/upload", raw=big_csv, headers={"Content-Type": "text/csv"})
    assert got == 413 and "limit" in payload["error"]
    big_json = json.dumps({"points": [[1.5, 2.5]] * (MAX_JSON // 10)}).encode()
    got, payload = call(server.url + "/api/playground/points", raw=big_json)
    assert got == 413 and "limit" in payload["error"]


def test_a_bad_csv_names_its_line(server):
    got, payload = call(server.url + "/api/playground/upload", raw=b"x,y\n1,2\n3,oops\n", headers={"Content-Type": "text/csv"})
    assert got == 400 and "line 3" in payload["error"] and "the uploaded CSV" in payload["error"]


# ------------------------------------------------------------------------------ playground

def test_playground_steps_settings_points_and_save(server, runs_dir, tmp_path):
    url, pg = server.url, server.playground
    assert call(url + "/api/playground/control", {"action": "reset"})[0] == 200
    got, st = call(url + "/api/playground/control", {"action": "step"})
    assert got == 200 and st["step"] == 1
    d_before = [p.clone() for p in pg.game.D.parameters()]
    g_before = [p.clone() for p in pg.game.G.parameters()]
    call(url + "/api/playground/control", {"action": "d_step"})
    assert any(not (a == b).all() for a, b in zip(d_before, pg.game.D.parameters()))  # D moved
    assert all((a == b).all() for a, b in zip(g_before, pg.game.G.parameters()))  # G held
    d_before = [p.clone() for p in pg.game.D.parameters()]
    call(url + "/api/playground/control", {"action": "g_step"})
    assert all((a == b).all() for a, b in zip(d_before, pg.game.D.parameters()))
    assert any(not (a == b).all() for a, b in zip(g_before, pg.game.G.parameters()))

    got, s = call(url + "/api/playground/settings", {"objective": "wgan-gp", "gp_weight": 0.1, "k": 2, "lr_d": 1e-4})
    assert got == 200 and s["objective"] == "wgan-gp" and s["k"] == 2
    assert pg.game.obj.critic and pg.game.k == 2 and pg.game.opt_d.param_groups[0]["lr"] == 1e-4
    got, s = call(url + "/api/playground/settings", {"width": 32, "depth": 2, "nz": 3})
    assert got == 200 and pg.game.G.net[0].in_features == 3 and pg.game.G.net[0].out_features == 32

    csv = b"x,y\n" + b"".join(f"{np.cos(t):.3f},{np.sin(t):.3f}\n".encode() for t in np.linspace(0, 6, 40))
    got, s = call(url + "/api/playground/upload", raw=csv, headers={"Content-Type": "text/csv"})
    assert got == 200 and s["data"] == "points" and pg.info.centers is None
    got, s = call(url + "/api/playground/points", {"points": [[0, 0], [1, 1], [2, 0]]})
    assert got == 200 and s["data"] == "points"

    got, payload = call(url + "/api/playground/save", {"name": "early"})  # nothing logged yet after the rebuild
    assert got == 400 and "train at least" in payload["error"]
    call(url + "/api/playground/control", {"action": "play"})
    assert wait_for(lambda: pg.step >= 50, 120)
    call(url + "/api/playground/control", {"action": "pause"})
    got, saved = call(url + "/api/playground/save", {"name": "mine"})
    assert got == 200, saved
    run = runs_dir / saved["run"]
    assert (run / "points.csv").exists() and (run / "metrics.jsonl").exists()
    # the CLI takes it as any run: sample, diagnose, resume
    cli = [sys.executable, "-m", "ganforge"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(cli + ["sample", str(run), "-n", "16", "--out", str(tmp_path / "s.npz")], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert np.load(tmp_path / "s.npz")["points"].shape == (16, 2)
    out = subprocess.run(cli + ["diagnose", str(run)], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "steps logged" in out.stdout, out.stderr
    step = pg.step
    out = subprocess.run(cli + ["train", "--resume", str(run), "--train.steps", str(step + 5), "--train.progress", "false"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert (run / "checkpoints" / f"step-{step + 5:06d}.pt").exists()
    assert call(f"{url}/api/run?name={saved['run']}")[0] == 200


def test_stream_sends_frames_with_rows(server):
    call(server.url + "/api/playground/control", {"action": "reset"})
    call(server.url + "/api/playground/control", {"action": "play"})
    with urllib.request.urlopen(urllib.request.Request(server.url + "/api/playground/stream", headers=server.headers),
                                timeout=60) as r:
        msgs = []
        for line in r:
            if line.startswith(b"data: "):
                msgs.append(json.loads(line[6:]))
            if len(msgs) >= 5:
                break
    call(server.url + "/api/playground/control", {"action": "pause"})
    f = msgs[-1]["frame"]
    assert len(f["fake"]) == len(f["real"]) == 2 * 512 and len(f["heat"]["v"]) == f["heat"]["n"] ** 2
    assert len(f["arrows"]) % 4 == 0 and msgs[-1]["state"]["step"] > msgs[0]["state"]["step"]
    assert sum(len(m["rows"]) for m in msgs) >= 1 and "loss_d" in [m for m in msgs if m["rows"]][0]["rows"][0]


# ------------------------------------------------------------------------------ dashboard and explorer

def test_runs_list_and_detail(server):
    got, payload = call(server.url + "/api/runs")
    runs = {r["name"]: r for r in payload["runs"]}
    assert {"ring8", "digits"} <= set(runs) and runs["ring8"]["step"] == 40 and runs["ring8"]["status"] == "finished"
    assert runs["ring8"]["best"]["metric"] == "high_quality" and runs["ring8"]["best"]["step"] in (20, 40)
    got, d = call(server.url + "/api/run?name=ring8")
    assert got == 200 and d["n_rows"] == 8 and [f["step"] for f in d["frames"]] == [10, 20, 30, 40]
    assert "data:" in d["config_text"] and "steps logged" in d["diagnosis"]
    assert [e["step"] for e in d["evals"]] == [20, 40] and "protocol" in d["evals"][0]["results"][0]
    got, d2 = call(server.url + "/api/run?name=ring8&since=6")
    assert len(d2["rows"]) == 2
    got, png = call(server.url + "/api/file?path=ring8/" + d["frames"][0]["path"])
    assert got == 200 and png[:4] == b"\x89PNG"


def test_explorer_renders_interpolates_and_downloads(server):
    got, info = call(server.url + "/api/explore/info?run=digits")
    assert got == 200 and info["nz"] == 8 and len(info["samples"]) == 16
    a, b = info["samples"][:2]
    got, r1 = call(server.url + "/api/explore/render", {"run": "digits", "z": [a]})
    got, r2 = call(server.url + "/api/explore/render", {"run": "digits", "z": [b]})
    assert r1["png"].startswith("data:image/png;base64,") and r1["png"] != r2["png"]
    got, r = call(server.url + "/api/explore/interpolate", {"run": "digits", "a": a, "b": b, "steps": 5, "method": "lerp"})
    assert got == 200 and len(r["z"]) == 5 and np.allclose(r["z"][0], a, atol=1e-6) and np.allclose(r["z"][-1], b, atol=1e-6)
    got, r = call(server.url + "/api/explore/arithmetic", {"run": "digits", "a": [a], "b": [b], "c": [a, b]})
    assert got == 200 and np.allclose(r["z"][3], np.array(a) - np.array(b) + (np.array(a) + np.array(b)) / 2, atol=1e-5)
    got, blob = call(server.url + "/api/explore/download", {"run": "digits", "z": [a, b]})
    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    assert got == 200 and set(names) == {"picture.png", "picture.latents.npz"}
    z = np.load(io.BytesIO(zipfile.ZipFile(io.BytesIO(blob)).read("picture.latents.npz")))["z"]
    assert np.allclose(z, [a, b], atol=1e-6)
    got, r = call(server.url + "/api/explore/render", {"run": "ring8", "z": [[0.0, 0.0], [1.0, 1.0]]})
    assert got == 200  # 2-D points: drawn as dots


def test_explorer_class_picker(server):
    got, info = call(server.url + "/api/explore/info?run=cdigits")
    assert got == 200 and info["conditional"] and info["classes"] == [str(i) for i in range(10)]
    z = info["samples"][:1]
    pngs = {y: call(server.url + "/api/explore/render", {"run": "cdigits", "z": z, "y": y})[1]["png"] for y in (0, 7)}
    assert pngs[0] != pngs[7]
    got, payload = call(server.url + "/api/explore/render", {"run": "cdigits", "z": z, "y": 10})
    assert got == 400 and "0..9" in payload["error"]


# ------------------------------------------------------------------------------ safety of the server itself

def test_the_token_guards_every_request(runs_dir):
    s = ServerThread(runs_dir, token="s3cret")
    port = s.url.rsplit(":", 1)[1]
    cookie = f"ganforge_token_{port}"
    try:
        got, payload = call(s.url + "/api/runs", auth=False)
        assert got == 401 and "token" in payload["error"]
        assert call(s.url + "/api/runs?token=wrong", auth=False)[0] == 401
        assert call(s.url + "/api/runs", headers={"Cookie": f"{cookie}=wrong"}, auth=False)[0] == 401
        assert call(s.url + "/api/runs", headers={"Cookie": "ganforge_token=s3cret"}, auth=False)[0] == 401  # another port's name
        assert call(s.url + "/api/runs?token=%C3%A9t%C3%A9", auth=False)[0] == 401  # non-ASCII: refused, not a crash
        assert call(s.url + "/api/runs", headers={"Cookie": f"{cookie}=\"unclosed; x"}, auth=False)[0] == 401
        assert call(s.url + "/api/runs", headers={"Cookie": f"{cookie}=s3cret"}, auth=False)[0] == 200
        assert call(s.url + "/api/runs", headers={"Cookie": f"junk=\"; {cookie}=s3cret; other=1"}, auth=False)[0] == 200
    finally:
        s.stop()
    assert not s.playground.thread.is_alive()  # stopping the server stopped the training thread


def test_serve_binds_loopback_by_default_and_stops_cleanly_on_ctrl_c(runs_dir):
    from ganforge.cli import parser
    from ganforge.web.gates import is_loopback

    assert parser().parse_args(["serve"]).host == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    p, line = start_serve(runs_dir)
    try:
        printed = re.search(r"http://\S+", line).group(0)
        assert printed.startswith("http://127.0.0.1:") and re.search(r"/\?token=[\w-]{16,}$", printed)  # a token on loopback too
        url, token = printed.split("/?token=")
        auth = {"X-Ganforge-Token": token}
        assert wait_for(lambda: _up(url, headers=auth), 60)
        assert call(url + "/api/runs")[0] == 401
        assert call(url + "/api/playground/control", {"action": "play"}, headers=auth)[0] == 200
        stream = urllib.request.urlopen(urllib.request.Request(url + "/api/playground/stream", headers=auth), timeout=60)
        stream.readline()
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 0, p.stderr.read()
        stream.close()
        err = p.stderr.read()
        assert "Traceback" not in err and "ERROR" not in err, err
    finally:
        if p.poll() is None:
            p.kill()


def test_a_public_host_prints_a_warning_and_a_token(runs_dir):
    p = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", "--runs", str(runs_dir), "--port", "0", "--host", "0.0.0.0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "http://" not in line:
            line = p.stdout.readline()
            assert line or p.poll() is None, p.stderr.read()
        assert re.search(r"\?token=[\w-]{16,}", line)
        port = re.search(r":(\d+)/", line).group(1)
        assert wait_for(lambda: _up(f"http://127.0.0.1:{port}", ok=(401,)), 60)
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
    assert "warning" in p.stderr.read()


def _up(url, ok=(200,), headers=None) -> bool:
    try:
        return call(url + "/api/runs", headers=headers)[0] in ok
    except OSError:
        return False


def test_a_failing_step_pauses_training_and_tells_the_page(server, monkeypatch):
    pg = server.playground

    def boom(which="full"):
        raise RuntimeError("boom")

    monkeypatch.setattr(pg, "_step", boom)
    assert call(server.url + "/api/playground/control", {"action": "play"})[0] == 200
    assert wait_for(lambda: not pg.playing, 30)
    assert "RuntimeError: boom" in pg.events[-1]["detail"] and pg.thread.is_alive()


def test_slow_mode_steps_a_few_times_a_second_with_a_frame_each(server):
    from ganforge.web.playground import SLOW_STEPS_PER_S

    pg, url = server.playground, server.url
    call(url + "/api/playground/control", {"action": "reset"})
    call(url + "/api/playground/control", {"action": "slow"})
    frames = pg.frame_id
    call(url + "/api/playground/control", {"action": "play"})
    time.sleep(2.0)
    call(url + "/api/playground/control", {"action": "pause"})
    call(url + "/api/playground/control", {"action": "fast"})
    assert 1 <= pg.step <= 2.0 * SLOW_STEPS_PER_S + 2
    assert pg.frame_id - frames >= pg.step  # a frame after every step
