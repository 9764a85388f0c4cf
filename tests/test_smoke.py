import numpy as np

import ifnscore


def test_demo_end_to_end(example, ref_fc_sum):
    counts, _samples = example
    res = ifnscore.score(counts, reference=ref_fc_sum)
    assert list(res.columns) == ["score", "positive", "fold_over_limit", "n_genes"]
    assert res["positive"].dtype == bool
    np.testing.assert_allclose(res["fold_over_limit"], res["score"] / 12.49, rtol=1e-15)
    assert res.loc["JDM01_d000", "score"] > 500
    assert not res.loc["JDM01_d365", "positive"]
