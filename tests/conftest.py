import os

import pytest
from hypothesis import settings

import ifnscore

# "ci" (the default) is derandomised so a CI run cannot fail on an example no one has seen;
# HYPOTHESIS_PROFILE=explore searches fresh random examples (run it when changing a kernel).
settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
