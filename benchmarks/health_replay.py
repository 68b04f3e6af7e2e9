"""Replay recorded runs (metrics.jsonl: flushed rows and probe values) through the current
HealthMonitor, to check a change of detection rules against runs already made:

    python benchmarks/health_replay.py RUN_DIR [RUN_DIR ...]
"""
import json, sys, glob
from ganforge import objectives
from ganforge.config import ObjectiveConfig
from ganforge.health import HealthMonitor
import yaml

for run in [a.rstrip("/") + "/" for a in sys.argv[1:]]:
    c = yaml.safe_load(open(run + 'config.yaml'))
    m = HealthMonitor(None, c['health']['window'], objectives.build(ObjectiveConfig(**{k: v for k, v in c['objective'].items()})), int(c['health']['warmup'] * c['train']['steps']))
    found = set()
    for line in open(run + 'metrics.jsonl'):
        r = json.loads(line)
        if 'eval' in r: continue
        if 'diversity' in r:  # a probe's values, as HealthMonitor.probe recorded them
            keys = ('diversity', 'modes', 'total_modes', 'modes_captured', 'high_quality', 'class_coverage')
            m.probes.append({"step": r['step'], **{k: r[k] for k in keys if k in r}})
        found |= {e['condition'] for e in m.observe(r['step'], r) if e['status'] == 'start'}
    print(run.split('/')[-2], 'steps', r['step'], '->', sorted(found))
