"""Every endpoint of ganforge serve driven with random and hostile values: a fixed number of
requests from a fixed seed, within a time bound. None may answer 5xx, the server must still
answer afterwards, and its memory must stay bounded."""
from __future__ import annotations

import json
import os
import random
import time
import urllib.parse

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from webutil import call, runs_dir, server  # noqa: E402,F401  (fixtures)

REQUESTS = 300
SECONDS = 240  # the whole run's bound (about 30 s on a quiet 2-core machine)
RSS_GROWTH_MB = 600

# Raw JSON values: what a page would send, and what an attacker would.
HOSTILE = ["null", "true", "false", "0", "-1", "1", "2", "7", "3.5", "-0.0", "1e-320", "1e9", "1000000000",
           "1e309", "-1e309", "NaN", "Infinity", "-Infinity", "1" * 400, "1" * 5000, '""', '"x"', '"ring8"',
           '"../.."', '"/etc/passwd"', '"ring8/../../x"', '"\\u0000"', '"' + "a" * 20000 + '"', '"é \\ud800"',
           "[]", "{}", "[0]", "[[0, 0]]", "[[0.5, 1.5], [2, 3], [1e308, 0]]", "[" * 3000 + "]" * 3000,
           json.dumps([[0.0] * 8] * 3), json.dumps([0.1] * 8), json.dumps([[0.0] * 2] * 300), json.dumps([[1e38] * 8]),
           '{"a": 1}', '"slerp"', '"lerp"', '"wgan-gp"', '"energy"', '"points"', '"grid25"', '"digits"', '"cdigits"']
KEYS = {
    "/api/playground/control": ["action"],
    "/api/playground/settings": ["data", "objective", "lr_g", "lr_d", "k", "batch", "width", "depth", "nz",
                                 "gp_weight", "r1_weight", "label_smoothing", "mode_seeking", "seed", "colour"],
    "/api/playground/points": ["points"],
    "/api/playground/save": ["name"],
    "/api/explore/render": ["run", "z", "y", "cols"],
    "/api/explore/interpolate": ["run", "a", "b", "steps", "method", "y"],
    "/api/explore/arithmetic": ["run", "a", "b", "c", "perturb", "y"],
    "/api/explore/download": ["run", "z", "y", "cols"],
}
GOOD = {"action": ['"pause"', '"step"', '"reset"', '"d_step"', '"g_step"', '"slow"', '"fast"', '"jump"'],
        "run": ['"digits"', '"ring8"', '"cdigits"', '"./digits"', '"nope"']}
GETS = {"/api/runs": {}, "/api/run": {"name": ["ring8", "./ring8", "../x", "", "%00", "x" * 3000], "since": ["0", "3", "-1", "²", "9" * 30]},
        "/api/file": {"path": ["ring8/config.yaml", "ring8/samples/final.png", "../etc/passwd", "/etc/passwd", "ring8/",
                               "ring8/metrics.jsonl", "ring8\\x.png", "ring8/checkpoints/best.pt", "a" * 5000]},
        "/api/explore/info": {"run": ["digits", "././ring8", "nope", "../.."], "seed": ["0", "1", "99999999999", "x", "-5"]},
        "/api/playground": {}, "/api/nothing": {}, "/static/../../etc/passwd": {}, "/": {}}
HEADERS = [{}, {}, {}, {"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Content-Type": "text/plain"},
           {"Content-Type": "application/json; charset=utf-8"}, {"Cookie": "ganforge_token_1=\"; x"}]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def post_body(rng: random.Random, path: str) -> bytes:
    keys = rng.sample(KEYS[path], k=rng.randint(0, len(KEYS[path])))
    if path.startswith("/api/explore") and rng.random() < 0.8 and "run" not in keys:
        keys.append("run")
    parts = []
    for k in keys:
        pool = GOOD[k] if k in GOOD and rng.random() < 0.7 else HOSTILE
        parts.append(f"{json.dumps(k)}: {rng.choice(pool)}")
    body = "{" + ", ".join(parts) + "}"
    return rng.choice([body] * 8 + ["[1, 2]", "{nope", "", "null", body[: len(body) // 2]]).encode()


def one_request(rng: random.Random, url: str):
    if rng.random() < 0.35:
        path = rng.choice(list(GETS))
        params = {k: rng.choice(v) for k, v in GETS[path].items() if rng.random() < 0.8}
        query = urllib.parse.urlencode(params, safe="/%")
        return call(f"{url}{path}" + (f"?{query}" if query else ""), headers=rng.choice(HEADERS))
    if rng.random() < 0.05:
        return call(url + "/api/playground/upload", raw=rng.choice([b"x,y\n0,0\n1,1\n", b"\xff\xfe", b"1e309,0\n0,0\n",
                                                                    b"a,b,c\n" * 50, b"0,0\n"]),
                    headers={"Content-Type": "text/csv"})
    path = rng.choice(list(KEYS))
    return call(url + path, raw=post_body(rng, path), headers=rng.choice(HEADERS))


def test_random_and_hostile_requests_never_break_the_server(server):
    rng = random.Random(2024)
    before = rss_mb()
    t0 = time.perf_counter()
    seen, failures = {}, []
    for i in range(REQUESTS):
        assert time.perf_counter() - t0 < SECONDS, f"{i} requests in {SECONDS} s"
        state = rng.getstate()
        status, payload = one_request(rng, server.url)
        seen[status] = seen.get(status, 0) + 1
        if status >= 500:
            rng.setstate(state)
            failures.append((i, status, payload))
        if i % 50 == 49:  # the playground may have been set playing: keep it from running the whole time
            call(server.url + "/api/playground/control", {"action": "pause"})
    call(server.url + "/api/playground/control", {"action": "pause"})
    print(f"statuses {sorted(seen.items())}, {time.perf_counter() - t0:.1f} s, RSS +{rss_mb() - before:.0f} MB")
    assert not failures, failures[:5]
    assert sum(n for s, n in seen.items() if 400 <= s < 500) > REQUESTS / 3, seen  # the hostile ones were refused
    assert sum(n for s, n in seen.items() if s < 300) > REQUESTS / 20, seen  # and the good ones served
    got, st = call(server.url + "/api/playground/control", {"action": "step"})
    assert got == 200 and json.dumps(st, allow_nan=False)
    assert call(server.url + "/api/runs")[0] == 200 and call(server.url + "/api/explore/info?run=digits")[0] == 200
    assert rss_mb() - before < RSS_GROWTH_MB, f"memory grew by {rss_mb() - before:.0f} MB over {REQUESTS} requests"
