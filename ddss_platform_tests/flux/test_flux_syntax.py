"""The Flux tasks pass InfluxData's own checks (installed from npm by scripts/install-flux-parser.sh): the
@influxdata/flux parser (syntax) and the semantic check of @influxdata/flux-lsp-browser (types, standard
library signatures, undefined names). Each file is a task named after itself that writes to derived_metrics,
and the range queries the adapter sends pass too. (test_derived_fixture.py runs the tasks on a real InfluxDB.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ddss_platform.stores.timeseries import CITIZEN_EVENT, DERIVED_TASKS, MEASUREMENTS, RAW_EVENTS
from ddss_platform.stores.timeseries.influx import FLUX_DIR, query_flux

HERE = Path(__file__).parent
MODULES = HERE / "node_modules" / "@influxdata"


def check(files: list[Path], semantic: bool = False) -> dict[str, dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed for the @influxdata/flux parser)")
    if not (MODULES / "flux" / "flux.js").is_file():
        pytest.skip("@influxdata/flux is not installed: run scripts/install-flux-parser.sh")
    if semantic and not (MODULES / "flux-lsp-browser").is_dir():
        pytest.skip("@influxdata/flux-lsp-browser is not installed: run scripts/install-flux-parser.sh")
    out = subprocess.run(
        [node, str(HERE / "parse_flux.mjs"), *map(str, files)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    return {Path(r["file"]).name: r for r in map(json.loads, out.splitlines())}


def test_one_task_file_per_derived_metric():
    assert sorted(p.stem for p in FLUX_DIR.glob("*.flux")) == sorted(DERIVED_TASKS)


def test_every_task_parses_and_writes_to_derived_metrics():
    reports = check(sorted(FLUX_DIR.glob("*.flux")))
    for name in DERIVED_TASKS:
        report = reports[f"{name}.flux"]
        assert report["errors"] == [], name
        assert report["task"]["name"] == name
        assert report["task"]["every"] in ("1h", "1d")
        assert report["to_buckets"] == ["derived_metrics"]


def test_every_task_passes_the_semantic_check():
    reports = check(sorted(FLUX_DIR.glob("*.flux")), semantic=True)
    assert {name: r["valid"] for name, r in reports.items()} == {f"{n}.flux": True for n in DERIVED_TASKS}


def test_the_flux_the_adapter_sends_passes_both_checks(tmp_path):
    files = []
    spec = MEASUREMENTS[CITIZEN_EVENT]
    for tags, limit in (({}, None), ({"citizenID": 'x" ${y}\\', "region": "north"}, 5)):
        files.append(tmp_path / f"query_{len(tags)}_{limit}.flux")
        files[-1].write_text(query_flux(RAW_EVENTS, spec, 0, 10**18, tags, limit))
    reports = check(files, semantic=True)
    assert {n: (r["errors"], r["valid"]) for n, r in reports.items()} == {f.name: ([], True) for f in files}


def test_the_checks_catch_mistakes(tmp_path):
    bad_syntax = tmp_path / "bad_syntax.flux"
    bad_syntax.write_text('option task = {name: "bad", every: 1h}\nfrom(bucket: "raw_events" |> range(start: -1h)\n')
    bad_call = tmp_path / "bad_call.flux"
    bad_call.write_text('from(bucket: "raw_events") |> range(start: -1h) |> median(methd: "exact_mean")\n')
    reports = check([bad_syntax, bad_call], semantic=True)
    assert reports["bad_syntax.flux"]["errors"]
    assert reports["bad_call.flux"]["errors"] == [] and reports["bad_call.flux"]["valid"] is False
