"""The command line: exit codes, the demo's output file, the signature listing."""

import pandas as pd

from ifnscore.cli import main


def test_demo_writes_the_scores(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["demo", "-o", str(out)]) == 0
    table = pd.read_csv(out, index_col=0)
    assert {"score", "positive", "fold_over_limit", "n_genes", "group", "patient", "day"} <= set(
        table.columns
    )
    assert len(table) == 99
    assert table.loc["JDM01_d000", "positive"]
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # written atomically
    text = capsys.readouterr().out
    assert "upper limit 12.49 (published" in text
    assert f"wrote 99 rows to {out}" in text


def test_demo_other_method(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "m.csv"), "--method", "fc_median"]) == 0
    assert "upper limit 2.466" in capsys.readouterr().out


def test_signatures_listing_and_detail(capsys):
    assert main(["signatures"]) == 0
    listing = capsys.readouterr().out
    for name in ("rice6", "ifngs4", "feng5", "raupov5", "janssen10"):
        assert name in listing
    assert main(["signatures", "rice6"]) == 0
    detail = capsys.readouterr().out
    assert "IFI27, IFI44L, IFIT1, ISG15, RSAD2, SIGLEC1" in detail
    assert "2.466 for method fc_median" in detail
    assert "12.49 for method fc_sum" in detail


def test_errors_and_usage(tmp_path, capsys):
    assert main(["signatures", "rice7"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ifnscore signatures: error: --signature rice7 is not a published")
    assert "Traceback" not in err
    assert main(["demo", "-o", str(tmp_path / "x.csv"), "--method", "nope"]) == 1
    assert "--method nope is not known" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["demo", "--bogus"]) == 2
    assert main(["--version"]) == 0


def test_outputs_get_normal_file_permissions(tmp_path):
    import os
    import stat

    out = tmp_path / "x.csv"
    assert main(["demo", "-o", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
