"""ganforge serve as an attacker on the same machine, or a web page the user visits, would try
it: each test makes one of the ways in that were found open and shows it refused (the
explorer's cache, unbounded settings, symlinks, HTML in --runs, the token on loopback,
cross-site GETs, headers, error texts, malformed runs, YAML aliases, stale tokens, the caps
on streams, history and saves, the dependency floors); and a run stopped by a signal is
listed as stopped."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from webutil import ServerThread, call, runs_dir, server, start_serve  # noqa: E402,F401  (fixtures)

from ganforge.web import explorer as explorer_mod  # noqa: E402
from ganforge.web import playground as playground_mod  # noqa: E402
from ganforge.web import runs_view  # noqa: E402
from ganforge.web import server as server_mod  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def made(runs_dir):
    """Directories a test adds to the runs directory, removed afterwards."""
    paths = []
    yield paths
    for p in paths:
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------------------------ 1: the explorer's cache, cross-site GETs

def test_one_cache_entry_for_every_spelling_of_a_run(server):
    ex = server.app.state.explorer
    ex._cache.clear()
    before = rss_mb()
    for i in range(300):
        name = "./" * (i % 100) + "ring8" + ("/" if i >= 100 else "") + ("/." if i >= 200 else "")
        got, info = call(f"{server.url}/api/explore/info?run={urllib.request.quote(name)}")
        assert got == 200, info
    assert ex.cached() == 1
    assert rss_mb() - before < 100  # the toy model is loaded once, not 300 times


def test_the_cache_is_bounded_by_count_and_by_bytes(runs_dir):
    ex = explorer_mod.Explorer(runs_dir, max_models=2)
    for name in ("ring8", "digits", "cdigits"):
        ex.generator(name)
    assert ex.cached() == 2 and "ring8" not in " ".join(ex._cache)  # the least recently used went
    small = explorer_mod.Explorer(runs_dir, max_bytes=1)
    for name in ("ring8", "digits", "cdigits"):
        small.generator(name)
    assert small.cached() == 1  # over the byte budget: only the model in use is kept


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                                     {"Origin": "http://evil.example"}, {"Origin": "null"}])
def test_cross_site_requests_are_refused_gets_included(server, headers):
    ex = server.app.state.explorer
    ex._cache.clear()
    for path in ("/api/explore/info?run=digits", "/api/runs", "/api/run?name=ring8", "/api/file?path=ring8/config.yaml",
                 "/api/playground"):
        got, payload = call(server.url + path, headers=headers)
        assert got == 403 and "another" in payload["error"], (path, payload)
    got, payload = call(server.url + "/api/playground/control", {"action": "play"}, headers=headers)
    assert got == 403 and not server.playground.playing
    assert ex.cached() == 0  # refused before any work
    same = {"Sec-Fetch-Site": "same-origin", "Origin": server.url}
    assert call(server.url + "/api/explore/info?run=digits", headers=same)[0] == 200
    assert call(server.url + "/api/runs", headers={"Sec-Fetch-Site": "none"})[0] == 200  # typed in the address bar


# ------------------------------------------------------------------------------ 2: settings that wedged or exhausted the playground

def settings(server, raw: str):
    return call(server.url + "/api/playground/settings", raw=raw.encode())


@pytest.mark.parametrize("raw, words", [
    ('{"k": 1000000000}', "k (train.d_steps)"), ('{"nz": 50000}', "nz (model.nz)"), ('{"nz": 1e9}', "nz"),
    ('{"lr_d": 1e309}', "finite"), ('{"lr_g": -1e309}', "finite"), ('{"seed": 1180591620717411303424}', "seed"),
    ('{"batch": 4096, "width": 1024, "depth": 8}', "budget"), ('{"k": 20, "batch": 4096}', "budget"),
    ('{"lr_d": 0.001, "k": 1e9}', "k"), ('{"label_smoothing": NaN}', "finite"), ('{"objective": 7}', "objective"),
    ('{"data": ["ring8"]}', "data"), ('{"k": true}', "k"), ('{"k": 2.5}', "k"),
    ('{"width": 100000000000000000000000000000000000000000000000000}', "width"),
])
def test_out_of_bounds_settings_are_refused_and_change_nothing(server, raw, words):
    pg = server.playground
    before = pg.settings()
    t = time.perf_counter()
    got, payload = settings(server, raw)
    assert got == 400 and words in payload["error"], payload
    assert time.perf_counter() - t < 5
    assert pg.settings() == before  # nothing half-applied
    got, st = call(server.url + "/api/playground/control", {"action": "step"})
    assert got == 200 and json.dumps(st, allow_nan=False)  # the playground still steps, its state is JSON


def test_pause_answers_within_a_second_at_the_largest_step(server):
    pg = server.playground
    assert settings(server, '{"k": 20, "batch": 220}')[0] == 200  # just under the step budget
    try:
        call(server.url + "/api/playground/control", {"action": "play"})
        time.sleep(1.0)
        for _ in range(3):
            t = time.perf_counter()
            got, st = call(server.url + "/api/playground/control", {"action": "pause"})
            assert got == 200 and not st["playing"] and time.perf_counter() - t < 1.0
            step = pg.step
            time.sleep(1.0)
            assert pg.step <= step + 1  # at most the step under way finishes
            call(server.url + "/api/playground/control", {"action": "play"})
    finally:
        call(server.url + "/api/playground/control", {"action": "pause"})
        settings(server, '{"k": 1, "batch": 256}')


def test_the_explorer_refuses_unbounded_values(server):
    z = [[0.0] * 8]
    for body, words in [({"run": "digits", "a": z, "b": z, "c": z, "perturb": 10**9}, "perturb"),
                        ({"run": "digits", "z": z, "cols": 10**12}, "cols"),
                        ({"run": "digits", "z": [[1e30] * 8]}, "magnitude"),
                        ({"run": "cdigits", "z": z, "y": 1e300}, "class"),
                        ({"run": "cdigits", "z": z, "y": [True]}, "class"),
                        ({"run": "digits", "z": z * 2 + [[0.0] * 7]}, "differ")]:
        path = "/api/explore/arithmetic" if "perturb" in body else "/api/explore/render"
        got, payload = call(server.url + path, body)
        assert got == 400 and words in payload["error"], payload
    got, payload = call(server.url + "/api/explore/info?run=digits&seed=99999999999999")
    assert got == 400 and "seed" in payload["error"]


def test_ctrl_c_ends_the_process_while_it_trains_and_answers(runs_dir):
    p = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", "--runs", str(runs_dir), "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, token = _printed(p)
        auth = {"X-Ganforge-Token": token}
        assert call(url + "/api/playground/settings", {"k": 20, "batch": 220}, headers=auth)[0] == 200
        assert call(url + "/api/playground/control", {"action": "play"}, headers=auth)[0] == 200
        busy = [threading.Thread(target=call, args=(url + "/api/playground/settings", {"lr_d": 1e-4 * (i + 1)}),
                                 kwargs={"headers": auth}, daemon=True) for i in range(4)]
        for t in busy:
            t.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 0
        assert time.perf_counter() - t0 < 20
    finally:
        if p.poll() is None:
            p.kill()


def _printed(p) -> tuple[str, str]:
    line = ""
    while "http://" not in line:
        line = p.stdout.readline()
        assert line or p.poll() is None, p.stderr.read()
    url, token = re.search(r"(http://\S+)/\?token=(\S+)", line).groups()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if call(url + "/api/runs", headers={"X-Ganforge-Token": token})[0] == 200:
                return url, token
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer")


# ------------------------------------------------------------------------------ 3, 4: symlinks, HTML in --runs

def test_a_symlink_inside_a_run_is_refused_everywhere(server, runs_dir, tmp_path, made):
    secret = tmp_path / "secret.yaml"
    secret.write_text("data: {name: TOP-SECRET}\n")
    leak = runs_dir / "leaky"
    made.append(leak)
    shutil.copytree(runs_dir / "ring8", leak)
    (leak / "config.yaml").unlink()
    (leak / "config.yaml").symlink_to(secret)
    for path in ("/api/run?name=leaky", "/api/file?path=leaky/config.yaml"):
        got, payload = call(server.url + path)
        assert got == 403 and "outside the runs directory" in payload["error"], payload
    got, listing = call(server.url + "/api/runs")
    row = next(r for r in listing["runs"] if r["name"] == "leaky")
    assert row["status"] == "broken" and "TOP-SECRET" not in json.dumps(listing)
    # a checkpoint that is a link out of --runs: the explorer will not load it
    ckpts = runs_dir / "sneaky" / "checkpoints"
    made.append(runs_dir / "sneaky")
    ckpts.mkdir(parents=True)
    (ckpts / "step-000040.pt").symlink_to(runs_dir / ".." / tmp_path.name / "x.pt")
    shutil.copy(runs_dir / "ring8" / "checkpoints" / "step-000040.pt", tmp_path / "x.pt")
    got, payload = call(server.url + "/api/explore/info?run=sneaky")
    assert got == 403 and "outside the runs directory" in payload["error"], payload


@pytest.mark.parametrize("name", ["evil.html", "evil.htm", "evil.svg", "evil.xhtml", "evil.js", "evil", "evil.pt"])
def test_pages_and_scripts_inside_runs_are_never_served(server, runs_dir, name, made):
    p = runs_dir / "ring8" / name
    made.append(p)
    p.write_text("<script>fetch('/api/playground/control')</script>")
    got, payload = call(f"{server.url}/api/file?path=ring8/{name}")
    assert got == 403 and "only pictures, text and arrays" in payload["error"]


def test_files_are_served_with_their_type_nosniff_and_an_inert_policy(server, runs_dir, made):
    arr = runs_dir / "ring8" / "a.npz"
    made.append(arr)
    arr.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    for rel, kind in [("ring8/samples/final.png", "image/png"), ("ring8/config.yaml", "text/plain; charset=utf-8"),
                      ("ring8/metrics.jsonl", "text/plain; charset=utf-8"), ("ring8/a.npz", "application/octet-stream")]:
        req = urllib.request.Request(f"{server.url}/api/file?path={rel}", headers=server.headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.headers["Content-Type"] == kind and r.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in r.headers["Content-Security-Policy"]
            assert r.headers["Content-Disposition"].startswith("attachment" if rel.endswith(".npz") else "inline")


# ------------------------------------------------------------------------------ 5: the token, also on loopback

def no_redirect(url: str, headers: dict):
    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        with urllib.request.build_opener(Stay).open(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def test_the_token_is_on_by_default_and_leaves_the_address_bar(runs_dir):
    s = ServerThread(runs_dir)  # as ganforge serve on 127.0.0.1: a token
    try:
        assert s.token and call(s.url + "/api/runs", auth=False)[0] == 401
        assert call(s.url + "/", auth=False)[0] == 401
        name = f"ganforge_token_{s.url.rsplit(':', 1)[1]}"
        status, h = no_redirect(f"{s.url}/?token={s.token}&x=1", {})
        assert status == 303 and h["Location"] == "/?x=1" and h["Cache-Control"] == "no-store"
        cookie = h["Set-Cookie"]
        assert cookie.startswith(f"{name}={s.token};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # a stale ?token= next to a good cookie: the cookie wins and stays, the token still leaves the URL
        good = {"Cookie": f"{name}={s.token}"}
        status, h = no_redirect(f"{s.url}/api/runs?token=old-one", good)
        assert status == 303 and h["Location"] == "/api/runs" and h["Set-Cookie"] is None
        assert call(s.url + "/api/runs", headers=good, auth=False)[0] == 200
        # the redirect stays on this server, whatever the path looks like
        status, h = no_redirect(f"{s.url}//evil.example/?token={s.token}", {})
        assert status == 303 and h["Location"].startswith("/evil.example")
    finally:
        s.stop()


def test_no_token_is_for_loopback_only_and_warns(runs_dir):
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="--no-token"):
        server_mod.serve(runs_dir, host="0.0.0.0", port=0, no_token=True)
    p, line = start_serve(runs_dir, "--no-token")
    try:
        assert "token" not in line
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
    assert "warning: --no-token" in p.stderr.read()


# ------------------------------------------------------------------------------ 6: headers, error texts, broken runs, caps

def test_every_response_carries_the_security_headers(server):
    for path, auth in [("/", True), ("/static/common.js", True), ("/api/runs", True), ("/api/nothing", True),
                       ("/api/runs", False), ("/api/file?path=../x", True)]:
        req = urllib.request.Request(server.url + path, headers=server.headers if auth else {})
        try:
            r = urllib.request.urlopen(req, timeout=30)
        except urllib.error.HTTPError as e:
            r = e
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src" in csp and "unsafe-inline" not in csp, path
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"


def test_errors_name_the_request_not_this_machine(server, runs_dir, tmp_path, made, monkeypatch):
    bad = runs_dir / "truncated"
    made.append(bad)
    (bad / "checkpoints").mkdir(parents=True)
    (bad / "checkpoints" / "step-000001.pt").write_bytes(b"PK\x03\x04 not really")
    got, payload = call(server.url + "/api/explore/info?run=truncated")
    assert 400 <= got < 500 and "truncated" in payload["error"]
    assert str(runs_dir) not in payload["error"] and "/tmp" not in payload["error"], payload

    def boom(root):
        raise RuntimeError(f"allocator said no at {tmp_path}")

    monkeypatch.setattr(runs_view, "list_runs", boom)
    got, payload = call(server.url + "/api/runs")
    assert got == 500 and payload["error"].startswith("internal error")
    assert "RuntimeError" not in payload["error"] and str(tmp_path) not in payload["error"]


@pytest.mark.parametrize("files, reason", [
    ({"config.yaml": "data: [unclosed\n"}, "not valid YAML"),
    ({"config.yaml": "- a list\n- not settings\n"}, "not a mapping"),
    ({"config.yaml": "a: &a [1]\nb: *a\n"}, "aliases"),
    ({"config.yaml": "x: " + "y" * (1 << 20) + "\n"}, "bytes"),
    ({"config.yaml": "data: {name: ring8}\n", "metrics.jsonl": '{"step": ' + "9" * 5000 + "}\n"}, "metrics.jsonl"),
    ({"config.yaml": b"\xff\xfe not utf-8"}, "UTF-8"),
])
def test_a_malformed_run_is_listed_as_broken_and_the_others_as_ever(server, runs_dir, files, reason, made):
    run = runs_dir / "malformed"
    made.append(run)
    run.mkdir()
    for name, content in files.items():
        (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    got, listing = call(server.url + "/api/runs")
    assert got == 200
    rows = {r["name"]: r for r in listing["runs"]}
    assert rows["malformed"]["status"] == "broken" and reason in rows["malformed"]["reason"]
    assert rows["ring8"]["status"] == "finished"
    got, payload = call(server.url + "/api/run?name=malformed")
    assert got == 422 and reason in payload["error"]


def test_a_yaml_alias_bomb_is_refused_fast_and_small(server, runs_dir, made):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    run = runs_dir / "bomb"
    made.append(run)
    run.mkdir()
    (run / "config.yaml").write_text(bomb)
    assert len(bomb) < 400
    t = time.perf_counter()
    got, listing = call(server.url + "/api/runs")
    assert got == 200 and len(json.dumps(listing)) < 100_000 and time.perf_counter() - t < 10
    got, payload = call(server.url + "/api/run?name=bomb")
    assert got == 422 and "aliases" in payload["error"]


def test_frame_streams_are_capped_in_number_and_in_lifetime(server, monkeypatch):
    open_ = []
    try:
        for _ in range(server_mod.MAX_STREAMS):
            r = urllib.request.urlopen(urllib.request.Request(server.url + "/api/playground/stream",
                                                              headers=server.headers), timeout=30)
            r.readline()
            open_.append(r)
        got, payload = call(server.url + "/api/playground/stream")
        assert got == 429 and "streams" in payload["error"]
    finally:
        for r in open_:
            r.close()
    deadline = time.time() + 10
    while server.app.state.streams and time.time() < deadline:
        time.sleep(0.05)
    monkeypatch.setattr(server_mod, "STREAM_SECONDS", 1.0)
    t = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(server.url + "/api/playground/stream", headers=server.headers),
                                timeout=30) as r:
        lines = r.read().decode().splitlines()  # returns when the server ends the stream
    msgs = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert time.perf_counter() - t < 10 and msgs and msgs[0]["state"]["first"]


def test_history_and_saved_runs_are_capped(server, monkeypatch):
    pg = server.playground
    monkeypatch.setattr(playground_mod, "MAX_EVENTS", 10)
    monkeypatch.setattr(playground_mod, "MAX_LOG_ROWS", 5)
    with pg.lock:
        pg.session.events.extend({"step": i, "condition": "x", "status": "end", "title": "x"} for i in range(100))
        pg.session.rows.extend({"step": i} for i in range(100))
        pg._trim()
        assert len(pg.events) <= 10 and len(pg.session.rows) == 5 and pg.events_base >= 90
    assert len(pg.rows) <= playground_mod.MAX_ROWS
    monkeypatch.setattr(pg, "saves", playground_mod.MAX_SAVES)
    got, payload = call(server.url + "/api/playground/save", {"name": "one-too-many"})
    assert got == 429 and "limit" in payload["error"]


# ------------------------------------------------------------------------------ a run stopped by a signal

def test_a_run_stopped_by_a_signal_is_listed_as_stopped_at_its_step(tmp_path):
    out = tmp_path / "runs" / "interrupted"
    p = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "--preset", "gan-ring8", "--out", str(out),
                          "--train.steps", "100000", "--train.log_every", "10", "--train.progress", "false",
                          "--train.tensorboard", "false", "--health.enabled", "false"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    try:
        deadline = time.time() + 120
        while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text().count("\n") >= 2:
            assert time.time() < deadline and p.poll() is None, p.stderr.read()
            time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert "--resume" in err
    (row,) = runs_view.list_runs(tmp_path / "runs")
    stop = [e for e in runs_view.read_health(out) if e.get("event") == "stopped"][-1]
    assert row["status"] == "stopped" and row["stopped_at"] == stop["step"] == row["step"] > 0
    assert row["stopped_by"] == "SIGINT" and (out / "checkpoints" / f"step-{stop['step']:06d}.pt").exists()
    # trained on after the stop (a resume): no longer stopped
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": stop["step"] + 10, "loss_d": 1.0}) + "\n")
    assert runs_view.list_runs(tmp_path / "runs")[0]["status"] != "stopped"


# ------------------------------------------------------------------------------ 7: dependency floors

def test_dependency_floors_exclude_the_known_bypasses():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floor = lambda reqs, name: tuple(int(x) for x in re.search(rf"^{name}>=([\d.]+)", next(
        r for r in reqs if r.startswith(name + ">=")), re.M).group(1).split("."))
    assert floor(meta["dependencies"], "torch") >= (2, 10)  # weights-only bypasses before 2.6 and 2.10
    for extra in ("web", "test"):
        assert floor(meta["optional-dependencies"][extra], "starlette") >= (0, 49, 1)  # the Range header DoS


def test_checkpoints_are_refused_on_an_old_torch(runs_dir, monkeypatch):
    import torch

    from ganforge import checkpoint
    from ganforge.errors import CheckpointError

    checkpoint.require_safe_torch()  # this machine's torch is past the floor
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(CheckpointError, match=r"torch 2\.5\.1\+cpu.*torch >= 2\.10"):
        checkpoint.load(runs_dir / "ring8")
    with pytest.raises(CheckpointError, match="2.9.0"):
        checkpoint.require_safe_torch("2.9.0")
    checkpoint.require_safe_torch("2.10.0")


def test_feature_weights_and_cached_classifiers_are_refused_on_an_old_torch(tmp_path, monkeypatch):
    """The other files ganforge unpickles (a user's Inception weights, the classifier cache) get
    the same floor as checkpoints: a crafted file must not reach an old torch's loader."""
    import torch

    from ganforge.data.base import DataInfo
    from ganforge.errors import CheckpointError
    from ganforge.metrics import classifier, features

    images, labels = torch.randint(0, 256, (40, 8, 8, 1), dtype=torch.uint8).numpy(), (torch.arange(40) % 2).numpy()
    classifier.load_or_train(images, labels, tmp_path, epochs=1)
    assert classifier.load_cached(images, labels, tmp_path, epochs=1) is not None  # this torch: read
    weights = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(1)}, weights)
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(CheckpointError, match=r"torch 2\.5\.1\+cpu"):
        classifier.load_cached(images, labels, tmp_path, epochs=1)
    with pytest.raises(CheckpointError, match=r"torch 2\.5\.1\+cpu"):
        features.EXTRACTORS.get("inception")(DataInfo(kind="image", shape=(3, 32, 32)), weights=weights)
