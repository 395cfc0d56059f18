"""pytest settings for every test folder. In CI (`HYPOTHESIS_PROFILE=ci`, set by .ci/run) property-based tests
draw the same examples on every run, so that a red CI is reproducible; elsewhere they explore afresh."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(items: list) -> None:
    """The long scenarios (marked slow) first: pytest-xdist hands the tests out in this order (after the group of
    builds, which goes to one worker), so the other worker starts on them and neither is left alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
