"""The benchmark's datasets, full size and `--quick`.

All datasets are served in the one datetime form the Singer tap parses (`2018-01-02 23:03:41 -0800`):
with the emulator's default mix (5% legacy datetimes without offset, 2% ISO 8601) tap-wootric 0.5.3
stops at the first such record with a ValueError, and the table would then say nothing about its
requests. Our connector reads all three forms (its tests cover them); the CPU cost of the forms hardly
differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

DAY = 86_400
YEAR = 365 * DAY
DATETIME_FORM = "%Y-%m-%d %H:%M:%S %z"


def start_of_yesterday() -> int:
    return int(time.time()) // DAY * DAY - DAY


@dataclass(frozen=True)
class Dataset:
    name: str
    users: int
    years: float
    description: str
    bulk_import: int = 0
    seed: int = 7
    incremental_changed: float = 0.0  # > 0: an incremental run after this share of users changed
    base: str | None = None  # the dataset an incremental run follows (its full run gives the state)
    backdated: int = (
        0  # > 0: responses and declines (each) written after the base's sync with a past created_at
    )
    end: int = 0  # set by `at_end`

    def at_end(self, end: int) -> Dataset:
        return Dataset(**{**self.__dict__, "end": end})

    @property
    def start(self) -> int:
        return self.end - int(self.years * YEAR)

    @property
    def start_date(self) -> str:
        """The tools' `start_date`: a day before the first record, so that no tool's edge case shows."""
        return datetime.utcfromtimestamp(self.start - DAY).strftime("%Y-%m-%dT%H:%M:%SZ")

    def emulator_args(self) -> list[str]:
        args = [
            "--users", str(self.users),
            "--seed", str(self.seed),
            "--start", str(self.start),
            "--end", str(self.end),
            "--legacy-fraction", "0",
            "--iso-fraction", "0",
        ]  # fmt: skip
        if self.bulk_import:
            args += ["--bulk-import", str(self.bulk_import)]
        return args


def datasets(quick: bool) -> dict[str, Dataset]:
    k = 1 if not quick else 0
    dense_users = 100_000 if k else 5_000
    bulk = 5_000 if k else 2_000
    found = [
        Dataset("sparse", 1_000, 6, "1,000 users spread over 6 years (+1.5 responses, 0.5 declines each)"),
        Dataset(
            "dense",
            dense_users,
            2,
            f"{dense_users:,} users over 2 years (+{dense_users * 3 // 2:,} responses, {dense_users // 2:,} declines)",
        ),
        Dataset(
            "bulk",
            bulk,
            2,
            f"bulk import: {bulk:,} users updated in one second, created over the year before",
            bulk_import=bulk,
        ),
        Dataset(
            "incremental",
            dense_users,
            2,
            f"after the full sync of dense: 1% of users ({dense_users // 100:,}) changed, {dense_users // 5000} per second over 50 seconds",
            incremental_changed=0.01,
            base="dense",
        ),
        Dataset(
            "backdated",
            dense_users,
            2,
            "after the full sync of dense: 100 responses and 100 declines written with a past created_at (half "
            "200 days back, half anywhere before the look-back); syncs an hour and a week (the bound) later",
            base="dense",
            backdated=100,
        ),
    ]
    return {d.name: d for d in found}


def epoch(value: str | None) -> int | None:
    if value is None:
        return None
    return int(datetime.strptime(value, DATETIME_FORM).timestamp())
