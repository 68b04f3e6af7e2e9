"""Health monitor overhead: dcgan-digits 600 steps with health on and off, interleaved, best of 2.
"On" includes every probe: diversity, and the classes the digits classifier finds (trained and
cached before the timing starts, so health.classes auto finds it, as after `ganforge evaluate`).

    python benchmarks/health_overhead.py
"""
import time, torch, tempfile, ganforge
from ganforge import config as C, data
from ganforge.metrics.features import domain_classifier
torch.set_num_threads(1)
domain_classifier(data.build(C.load(preset="dcgan-digits").data))  # cache it: the judge's cost is not health's
res = {True: [], False: []}
for rep in range(2):
    for on in (True, False) if rep % 2 == 0 else (False, True):
        cfg = C.load(preset="dcgan-digits", overrides={"train": {"steps": 600, "progress": False, "tensorboard": False, "sample_every": 10**6, "ckpt_every": 10**6}, "health": {"enabled": on}})
        t = time.perf_counter(); ganforge.train(cfg, out=tempfile.mkdtemp() + "/r"); res[on].append(time.perf_counter() - t)
on, off = min(res[True]), min(res[False])
print(f"dcgan-digits 600 steps, 1 thread: health on {on:.1f} s, off {off:.1f} s (best of 2 each, interleaved): overhead {100 * (on - off) / off:+.1f}%")
