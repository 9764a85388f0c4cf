"""``ifnscore bench``: runs end to end on a tiny cohort, reports what it promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ifnscore import _bench
from ifnscore.cli import main


def test_bench_cli_prints_throughput_and_memory(capsys, tmp_path):
    out = tmp_path / "bench.csv"
    code = main(
        [
            "bench",
            "--cells", "1500",
            "--genes", "400",
            "--methods", "fc_sum,mean_log",
            "--signatures", "rice6,ifngs4",
            "--repeat", "1",
            "--threads", "1",
            "-o", str(out),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    text = captured.out
    assert code == 0
    assert "1,500 cells x 400 genes" in text
    # progress goes to standard error, one line per step, so the table stays clean
    progress = captured.err.splitlines()
    assert "simulating 1,500 cells x 400 genes (csr, seed 0)" in progress[0]
    assert any("simulated" in line and "non-zeros" in line for line in progress)
    for call in ("fc_sum", "mean_log", "floor: X @ w"):
        assert any(f"warm-up  {call}:" in line for line in progress), call
        assert any(f"run 1/1  {call}:" in line for line in progress), call
        assert any(f"peak memory  {call}" in line for line in progress), call
    assert "run 1/1" not in text
    assert "samples_per_s" in text
    assert "peak_extra_mb" in text
    assert "floor: X @ w" in text
    table = pd.read_csv(out, index_col=0)
    assert list(table.index) == ["fc_sum", "mean_log", "floor: X @ w"]
    assert (table["samples_per_s"] > 0).all()
    np.testing.assert_allclose(table["samples_per_s"], 1500 / table["seconds"], rtol=1e-9)
    assert (table["peak_extra_mb"] > 0).all()
    assert table.loc["floor: X @ w", "x_floor"] == 1.0


def test_bench_cli_quiet_prints_no_progress(capsys):
    argv = ["bench", "--cells", "300", "--genes", "200", "--methods", "mean_log", "--repeat", "1"]
    assert main([*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "samples_per_s" in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cells", "0"], "--cells must be at least 1"),
        (["--density", "0.7"], "--density must be in (0, 0.5)"),
        (["--methods", "nope"], "--method nope is not known"),
    ],
)
def test_bench_cli_bad_arguments(capsys, args, message):
    assert main(["bench", "--repeat", "1", *args]) == 1
    assert message in capsys.readouterr().err


def test_bench_cli_unknown_container_is_a_usage_error(capsys):
    assert main(["bench", "--container", "parquet"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("container", ["csc", "dense", "h5ad", "zarr", "dask"])
def test_bench_run_other_containers(container):
    if container == "dask":
        pytest.importorskip("dask")
    table = _bench.run(
        n_cells=800, n_genes=300, methods=["mean_log"], container=container, repeat=1
    )
    assert table.loc["mean_log", "cells"] == 800
    assert table.loc["mean_log", "container"] == container
    assert table.loc["mean_log", "seconds"] > 0
