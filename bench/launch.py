"""Runs a command and writes its resource usage, as measured by `os.wait4`, to a JSON file.

    python -I -S bench/launch.py RESULT.json COMMAND [ARG...]

Why a launcher: on Linux a child's `ru_maxrss` starts from the high-water mark of the memory it was forked
from (exec folds the old image's peak into it), so a child forked by the benchmark, which holds the
emulator's data, would report the benchmark's own peak RSS. Forked from this small process instead, the
command reports its own peak (anything above this launcher's ~10 MB).
"""

import json
import os
import sys
import time


def main() -> int:
    result_path, argv = sys.argv[1], sys.argv[2:]
    started = time.monotonic()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    with open(result_path, "w") as f:
        json.dump(
            {
                "returncode": os.waitstatus_to_exitcode(status),
                "wall": wall,
                "user": usage.ru_utime,
                "system": usage.ru_stime,
                "max_rss_kb": usage.ru_maxrss,
            },
            f,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
