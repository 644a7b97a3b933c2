"""Hypothesis profiles: ``ci`` (set HYPOTHESIS_PROFILE=ci, as .ci/run does) derandomizes the
search so that a CI run is reproducible; locally each run explores new examples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
