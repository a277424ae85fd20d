"""Why the ample-set reduction rarely applies to the shipped models: per scenario (default variant),
the steps that are visible (they write a field an invariant reads: C2 forbids them in an ample set),
the invisible ones, and those that can form an ample set at some program counter (independent of
every other thread's future there); then the fields that make steps visible or dependent, by count.

    python benchmarks/por_visibility.py
"""
from pteverify.scenario import load_scenarios
from pteverify.reduce import Reducer
from collections import Counter
scs = load_scenarios()
tot_steps=tot_invis=tot_cand=0
why_vis=Counter(); why_dep=Counter()
for name, sc in scs.items():
    cm = sc.build(sc.variant(None))
    red = Reducer(cm)
    idx = cm.index; names = cm.field_names
    inv_reads = set(n for inv in cm.invariants for n in inv.reads)
    ns = sum(len(t.steps) for t in cm.threads)
    invis = 0; cand = 0
    for ti,t in enumerate(cm.threads):
        for st in t.steps:
            w = st.footprint_writes
            vis = w & inv_reads
            if vis:
                for f in vis: why_vis[f.split('_',1)[-1] if f[:1].isupper() and '_' in f else f]+=1
                continue
            invis += 1
            if red.compatible[ti][st.index] is not None: cand += 1
            else:
                # which fields make it dependent on other threads' futures
                r = st.footprint_reads
                for tj,u in enumerate(cm.threads):
                    if tj==ti: continue
                    for su in u.steps:
                        conf = (w & (su.footprint_reads|su.footprint_writes)) | (r & su.footprint_writes)
                        for f in conf: why_dep[f]+=1
    tot_steps+=ns; tot_invis+=invis; tot_cand+=cand
    print(f"{name:28s} steps {ns:3d} invisible {invis:3d} can-reduce {cand:3d} useful={red.useful}")
print("total", tot_steps, tot_invis, tot_cand)
print("visible because they write:", why_vis.most_common(15))
print("dependent through:", why_dep.most_common(15))
