import pytest
from hypothesis import settings

import ifnscore

settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def example():
    """The bundled cohort: (counts samples x genes, sample metadata)."""
    return ifnscore.datasets.load_example(as_frame=True)


@pytest.fixture(scope="session")
def controls(example):
    counts, samples = example
    return counts[samples["group"] == "control"]


@pytest.fixture(scope="session")
def ref_fc_sum(controls):
    return ifnscore.calibrate(controls, signature="rice6", method="fc_sum")
