"""`pteverify check --executor dask`: the shipped suite on a dask.distributed LocalCluster gives
exactly the results of the local run (ids, statuses, verdicts, state counts)."""

from __future__ import annotations

import json
import subprocess
import sys

import distributed  # noqa: F401  (in the test extras: the executor is tested, not skipped)


def _check(tmp_path, *args):
    p = subprocess.run([sys.executable, "-m", "pteverify", "check", "--json", "--baseline",
                        str(tmp_path / "b.json"), *args], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)


def _key(report):
    return [(r["id"], r["status"], r["verdict"], r.get("states")) for r in report["results"]]


def test_check_on_a_local_dask_cluster_reports_what_a_local_run_does(tmp_path):
    rc_local, local = _check(tmp_path, "--jobs", "2")
    rc_dask, dask = _check(tmp_path, "--executor", "dask", "--jobs", "2")
    assert rc_dask == rc_local
    assert _key(dask) == _key(local) and len(_key(local)) > 100


def test_scheduler_without_dask_is_bad_input(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pteverify", "check", "--scheduler", "tcp://127.0.0.1:1",
                        "--baseline", str(tmp_path / "b.json")], capture_output=True, text=True)
    assert p.returncode == 2 and "--scheduler is for --executor dask" in p.stderr
