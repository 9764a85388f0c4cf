import numpy as np

import ifnscore


def test_demo_end_to_end(example, ref_fc_sum):
    counts, _samples = example
    res = ifnscore.score(counts, reference=ref_fc_sum)
    assert list(res.columns) == [
        "score",
        "positive",
        "fold_over_limit",
        "call",
        "healthy_percentile",
        "n_genes",
    ]
    assert res["positive"].dtype == bool
    np.testing.assert_allclose(res["fold_over_limit"], res["score"] / 12.49, rtol=1e-15)
    assert res.loc["JDM01_d000", "score"] > 500
    assert not res.loc["JDM01_d365", "positive"]


def test_default_path_does_not_import_scipy_stats():
    """scipy.stats costs ~40 MiB of resident memory; the default calibrate + score path
    (and the streaming reader's memory goal) must not load it."""
    import subprocess
    import sys

    code = (
        "import sys, ifnscore\n"
        "c, s = ifnscore.datasets.load_example(as_frame=True)\n"
        "ref = ifnscore.calibrate(c[s['group'] == 'control'], 'rice6')\n"
        "ifnscore.score(c, reference=ref)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
