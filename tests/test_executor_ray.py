"""`pteverify check --executor ray`: the same jobs as ray tasks on a local ray instance give exactly
the results of the local run. ray is in the test extra (it installs from PyPI on Python 3.11); where
it is absent (a platform without ray wheels) the test is skipped, saying so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="ray is not installed (pip install 'pteverify[ray]'; no wheel for this platform?)")

# a slice of the shipped suite (violated and holding variants, a layout): ray's start-up is the cost
ONLY = ("--only", "mte-s*", "--only", "lost-update*", "--only", "layout/x86_64")


def _check(tmp_path, *args):
    p = subprocess.run([sys.executable, "-m", "pteverify", "check", "--json", "--baseline",
                        str(tmp_path / "b.json"), *ONLY, *args], capture_output=True, text=True, timeout=600)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    return p.returncode, json.loads(p.stdout)


def _key(report):
    return [(r["id"], r["status"], r["verdict"], r.get("states")) for r in report["results"]]


def test_check_on_a_local_ray_instance_reports_what_a_local_run_does(tmp_path):
    rc_local, local = _check(tmp_path)
    rc_ray, ray_report = _check(tmp_path, "--executor", "ray", "--jobs", "2")
    assert rc_ray == rc_local == 0
    assert _key(ray_report) == _key(local) and len(_key(local)) > 10

