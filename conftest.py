"""pytest settings for every test folder.

In CI (`HYPOTHESIS_PROFILE=ci`, set by .ci/run) property-based tests draw the same examples on every run, so that
a red CI is reproducible; elsewhere they explore afresh.

On pytest-xdist workers (`-n 2`), tests are handed out one at a time, except those that build in place (the
wheelhouse, the PyAirbyte and Singer-tap venvs, the image): they run on one worker, in turn, first. xdist's own
`--dist loadgroup` marks groups by renaming items, which pytest 9 no longer reads."""

import os

import pytest
from hypothesis import settings
from xdist.scheduler import LoadScopeScheduling

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

BUILDS = ("test_wheel.py", "test_pyairbyte.py", "test_image.py", "test_singer_tap.py")


class BuildsOnOneWorker(LoadScopeScheduling):
    """A scope per test, but one for the builds (the largest scope, so the first handed out)."""

    def _split_scope(self, nodeid: str) -> str:
        return "builds" if nodeid.split("::", 1)[0].endswith(BUILDS) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling | None:
    return BuildsOnOneWorker(config, log) if config.getvalue("dist") == "load" else None
