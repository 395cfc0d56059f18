"""pytest settings for every test folder. In CI (`HYPOTHESIS_PROFILE=ci`, set by .ci/run) property-based tests
draw the same examples on every run, so that a red CI is reproducible; elsewhere they explore afresh."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
