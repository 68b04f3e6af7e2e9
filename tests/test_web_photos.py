"""The explorer's photo and directions endpoints: a dropped photo comes back projected (its
latent renders to the picture it returns), the sliders get orthonormal directions (the run's
file, else SeFa's), and bad input is a 4xx that names the field while the server keeps going."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("starlette", reason="the web extra is not installed")

from webutil import call, runs_dir, server  # noqa: E402,F401  (fixtures)


def data_url(img: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_photo_is_projected_and_its_latent_renders_the_same_picture(server):
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 45, 3), dtype=np.uint8))
    status, r = call(server.url + "/api/explore/project", {"run": "digits", "image": data_url(photo), "steps": 10,
                                                            "starts": 2})
    assert status == 200, r
    assert len(r["z"]) == 1 and len(r["z"][0]) == 8 and 0 <= r["rms"] <= 1
    assert r["png"].startswith("data:image/png;base64,") and r["target"].startswith("data:image/png;base64,")
    status, again = call(server.url + "/api/explore/render", {"run": "digits", "z": r["z"]})
    assert status == 200 and again["png"] == r["png"]


def test_a_conditional_run_gets_a_class_back(server):
    photo = Image.new("L", (20, 20), 30)
    status, r = call(server.url + "/api/explore/project", {"run": "cdigits", "image": data_url(photo, "JPEG"),
                                                            "steps": 10, "starts": 1, "invert": True})
    assert status == 200, r
    assert isinstance(r["y"][0], int) and 0 <= r["y"][0] < 10


def test_directions_for_the_sliders(server, runs_dir):
    status, r = call(server.url + "/api/explore/directions", {"run": "digits"})
    assert status == 200, r
    d = torch.tensor(r["directions"], dtype=torch.float64)
    assert "sefa" in r["source"] and d.shape == (8, 8)
    assert torch.allclose(d @ d.T, torch.eye(8, dtype=torch.float64), atol=1e-5)
    assert r["explained"] == sorted(r["explained"], reverse=True)
    from ganforge import latent, load

    found = latent.directions.find(load(runs_dir / "digits"), "pca", samples=100)
    latent.directions.save(found, runs_dir / "digits" / "latent" / "directions-pca" / "directions.npz")
    status, r = call(server.url + "/api/explore/directions", {"run": "digits"})
    assert status == 200 and r["source"] == "latent/directions-pca/directions.npz"
    assert np.allclose(r["directions"], found["directions"][:8].numpy())


@pytest.mark.parametrize("body, needle", [
    ({"run": "digits"}, "image: expected a picture"),
    ({"run": "digits", "image": "data:image/png;base64,@@@"}, "not valid base64"),
    ({"run": "digits", "image": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}, "image:"),
    ({"run": "digits", "image": "data:image/png;base64,AAAA", "steps": 1e9}, "steps"),
    ({"run": "digits", "image": "data:image/png;base64,AAAA", "invert": "yes"}, "invert"),
    ({"run": "ring8", "image": "data:image/png;base64,AAAA"}, "2-D points"),
])
def test_bad_photos_are_refused_by_name(server, body, needle):
    status, r = call(server.url + "/api/explore/project", body)
    assert 400 <= status < 500 and needle in r["error"], (status, r)
    assert "/tmp" not in r["error"]  # the temporary file is not named
    assert call(server.url + "/api/runs")[0] == 200  # still serving


def test_a_decompression_bomb_is_refused(server):
    big = Image.new("L", (2500, 2000), 0)  # 5 million pixels: a small PNG, over the limit
    status, r = call(server.url + "/api/explore/project", {"run": "digits", "image": data_url(big)})
    assert status == 400 and "too large" in r["error"]


def test_in_the_browser_a_chosen_photo_becomes_the_current_picture_and_directions_move_it(server, tmp_path):
    """The explorer page: choose a photo → projected → the current picture; 'Show directions'
    → sliders that change it (the system's Chromium; skipped where there is none)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright")
    from test_web_browser import CHROMIUM, CHROMIUM_ARGS, wait

    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 30), dtype=np.uint8)).save(photo)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.login("#/explore/digits"))
        wait(page, "window.__ex && window.__ex.renders >= 1")
        page.set_input_files("#ex-photo", str(photo))
        wait(page, "window.__ex.projected >= 1 && document.querySelector('#ex-photo-target').src.startsWith('data:')")
        wait(page, "document.querySelector('#ex-photo-info').textContent.includes('RMS')")
        page.click("#ex-dirs")
        wait(page, "document.querySelectorAll('#ex-dir-sliders input.direction-slider').length === 8")
        first = page.get_attribute("#ex-current", "src")
        renders = page.evaluate("window.__ex.renders")
        page.focus("#ex-dir-sliders input.direction-slider")
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        wait(page, f"window.__ex.renders > {renders} && document.querySelector('#ex-current').src !== {first!r}")
        browser.close()
    assert not errors, errors
