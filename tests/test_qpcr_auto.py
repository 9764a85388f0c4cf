"""qPCR files placed by their content through ifnscore.read (workbooks, RDML, folders of
plates) and read_ct tables (edited) read back as relative quantities."""

from __future__ import annotations

import numpy as np
import pytest
from _real import real

import ifnscore
from ifnscore._io import _sniff
from ifnscore.errors import InputError


@pytest.mark.parametrize(
    "name",
    [
        "rdml/eva_green_a.rdml",
        "quantstudio_design_analysis/appbio_quantstudio_designandanalysis_QS3_Relative_Quantification_example02.xlsx",
        "quantstudio_allotropy/appbio_quantstudio_example08.xlsx",
        "cfx_maestro/cfxmaestro_example01.csv",
        "lightcycler480/Edward_qPCR_Nrd1_calibration_2019-02-02_Cq.txt.gz",
    ],
)
def test_real_exports_are_detected_as_qpcr(name):
    assert _sniff(real(f"qpcr/{name}")) == "qpcr"


def _plate(path, shift):
    rows = ["Well,Sample Name,Target Name,CT"]
    wells = iter(f"{r}{c}" for r in "ABCDEFGH" for c in range(1, 13))
    for s, base in (("C1", 0.0), ("C2", 0.5), ("P1", -3.0)):
        for t, ct in (("HPRT1", 25.0), ("18S", 9.0), ("IFI27", 28.0 + base + shift)):
            rows.append(f"{next(wells)},{s},{t},{ct}")
    path.write_text("\n".join(rows) + "\n")


def test_a_folder_of_plates_is_several_plates(tmp_path):
    folder = tmp_path / "plates"
    folder.mkdir()
    _plate(folder / "plate1.csv", 0.0)
    _plate(folder / "plate2.csv", 1.0)
    (folder / "README.md").write_text("two plates\n")
    with pytest.warns(ifnscore.errors.IfnscoreWarning, match=r"README\.md"):
        a = ifnscore.read(folder)
    assert a.uns["ifnscore_read"]["format"] == "qpcr"
    assert sorted(a.obs_names) == sorted(
        f"{s}@plate{i}" for s in ("C1", "C2", "P1") for i in (1, 2)
    )


def test_an_edited_read_ct_table_reads_as_relative_quantities(tmp_path):
    """A LightCycler export names no target: set it on read_ct's table, then read the table."""
    path = tmp_path / "p.csv"
    _plate(path, 0.0)
    table = ifnscore.read_ct(path)
    a = ifnscore.read(table, reference_genes=["HPRT1", "18S"])
    # P1: dCt = 25 - (25 + 9) / 2 = 8 ... IFI27 dCt = 25 - 17 = 8; RQ = 2^-dCt (no calibrator)
    np.testing.assert_allclose(a[["P1"], "IFI27"].X.ravel(), [2.0 ** -(25.0 - 17.0)], rtol=1e-12)
    with pytest.raises(InputError, match=r"not a read_ct table: it lacks columns"):
        ifnscore.read(table.drop(columns=["ct"]))
