"""`ifnscore calibrate` with EP28 options and `ifnscore verify`, called through main()."""

import json

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory, example):
    d = tmp_path_factory.mktemp("cli_intervals")
    counts, samples = example
    ctrl = counts[samples["group"] == "control"]
    ctrl.T.to_csv(d / "healthy.csv")
    meta = pd.DataFrame({"sex": np.where(np.arange(len(ctrl)) % 2, "F", "M")}, index=ctrl.index)
    meta.to_csv(d / "meta.csv")
    new = ifnscore.datasets.simulate_cohort(
        n_controls=20, n_jdm=0, n_sle=0, case_patient=False, seed=7
    ).counts
    new.T.to_csv(d / "new.csv")
    return d, ctrl, meta


def test_calibrate_with_rule_groups_and_outliers(files, capsys):
    d, ctrl, meta = files
    out = d / "ref.json"
    argv = [
        "calibrate",
        str(d / "healthy.csv"),
        "--rule",
        "log:ep28",
        "--samples",
        str(d / "meta.csv"),
    ]
    assert main([*argv, "--groups", "sex", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "controls_ci_low" in printed
    assert "partitioned" in printed
    ref = ifnscore.Reference.load(out)
    direct = ifnscore.calibrate(ctrl, "rice6", rule="log:ep28", groups=meta["sex"])
    assert (
        ref.to_dict()["signatures"]["rice6"]["limits"]
        == direct.to_dict()["signatures"]["rice6"]["limits"]
    )
    assert (
        json.loads(out.read_text())["signatures"]["rice6"]["limits"]["controls"]["rule"]
        == "log:robust"
    )  # ep28 picks robust for 40


def test_groups_need_samples_file(files, capsys):
    d, _, _ = files
    code = main(["calibrate", str(d / "healthy.csv"), "--groups", "sex", "-o", str(d / "x.json")])
    assert code == 1
    assert "--groups needs --samples" in capsys.readouterr().err
    assert not (d / "x.json").exists()


def test_verify_accepts_and_rejects(files, capsys):
    d, _ctrl, _ = files
    ref_path = d / "ref_plain.json"
    assert main(["calibrate", str(d / "healthy.csv"), "-o", str(ref_path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["verify", str(d / "new.csv"), "--reference", str(ref_path)]) == 0
    out = capsys.readouterr().out
    ref = ifnscore.Reference.load(ref_path)
    new = pd.read_csv(d / "new.csv", index_col=0).T
    scores = ifnscore.score(new, reference=ref)["score"]
    n_out = int((scores >= 12.49).sum())
    assert f"{n_out} of 20 healthy samples" in out
    assert ("ACCEPTED" in out) == (n_out <= 2)
    assert main(["verify", str(d / "new.csv"), "--reference", str(ref_path), "--limit", "1"]) == 0
    assert "NOT accepted" in capsys.readouterr().out
