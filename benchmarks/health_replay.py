"""Replay recorded runs (metrics.jsonl: flushed rows and probe values) through the current
HealthMonitor, to check a change of detection rules against runs already made:

    python benchmarks/health_replay.py RUN_DIR [RUN_DIR ...]
"""
import json, sys
from ganforge import objectives
from ganforge.config import ObjectiveConfig
from ganforge.health import HealthMonitor
import yaml

for run in [a.rstrip("/") + "/" for a in sys.argv[1:]]:
    c = yaml.safe_load(open(run + 'config.yaml'))
    rows = [json.loads(line) for line in open(run + 'metrics.jsonl')]
    kind = 'points' if any('high_quality' in r for r in rows) else 'image'  # toys' probes score their modes
    m = HealthMonitor(None, c['health']['window'], objectives.build(ObjectiveConfig(**{k: v for k, v in c['objective'].items()})), int(c['health']['warmup'] * c['train']['steps']), kind)
    found = {}
    for r in rows:
        if 'eval' in r: continue
        if 'diversity' in r:  # a probe's values, as HealthMonitor.probe recorded them
            keys = ('diversity', 'pixel_std', 'modes', 'total_modes', 'modes_captured', 'high_quality', 'class_coverage')
            m.probes.append({"step": r['step'], **{k: r[k] for k in keys if k in r}})
        for e in m.observe(r['step'], r):
            if e['status'] == 'start':
                found.setdefault(e['condition'], e['step'])  # each condition, at the step it first started
    print(run.split('/')[-2], 'steps', r['step'], '->', dict(sorted(found.items())))
