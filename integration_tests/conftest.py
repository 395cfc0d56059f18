"""Every end-to-end test gets the emulator fixtures: `emulator` (per module) and `make_emulator(**kwargs)`."""

pytest_plugins = ["wootric_emulator.pytest_plugin"]
