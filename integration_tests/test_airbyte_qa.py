"""Airbyte's own connector QA suite, connectors-qa (run offline by ../shared/airbyte-qa/run.sh), with the
documentation checks of certified connectors (--sl300), on a temporary commit of the working tree, so that
uncommitted changes count. Every check passes (or does not apply) but CheckConnectorUsesPythonBaseImage,
which fails on purpose: the project keeps its Dockerfile, since users build the image without airbyte-ci.
Skipped, with the reason, where ../shared/airbyte-qa is absent (CI has it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QA_RUN = ROOT.parent / "shared" / "airbyte-qa" / "run.sh"
# run.sh's venv (built once, ~40 s) and its scratch monorepo; its default, /tmp/airbyte-qa, is shared by every
# checkout on the machine and rebuilt on each run.
QA_WORK = ROOT / ".cache" / "airbyte-qa"
ROW = re.compile(r"^(?P<status>PASS|FAIL|SKIP|-)\t(?P<check>\w+)\t(?P<category>\w+)\t(?P<message>.*)$")

if not QA_RUN.is_file():
    pytest.skip(f"{QA_RUN} is absent: Airbyte's connectors-qa checks were not run", allow_module_level=True)

pytestmark = pytest.mark.timeout(900)

# What each check must report: PASS, or SKIP where it does not apply to this connector.
EXPECTED = {
    "CheckMigrationGuide": "PASS",
    "CheckDocumentationExists": "PASS",
    "CheckDocumentationLinks": "PASS",
    "CheckDocumentationHeadersOrder": "PASS",
    "CheckPrerequisitesSectionDescribesRequiredFieldsFromSpec": "PASS",
    "CheckSourceSectionContent": "PASS",
    "CheckForAirbyteCloudSectionContent": "PASS",
    "CheckForAirbyteOpenSectionContent": "PASS",
    "CheckSupportedSyncModesSectionContent": "PASS",
    "CheckTutorialsSectionContent": "PASS",
    "CheckChangelogSectionContent": "PASS",
    "CheckChangelogEntry": "PASS",
    "ValidateMetadata": "PASS",
    "CheckConnectorLanguageTag": "PASS",
    "CheckConnectorCDKTag": "PASS",
    "ValidateBreakingChangesDeadlines": "PASS",
    "CheckConnectorMaxSecondsBetweenMessagesValue": "SKIP",  # not for community connectors
    "CheckConnectorUsesPoetry": "PASS",
    "CheckConnectorLicense": "PASS",
    "CheckConnectorLicenseMatchInPyproject": "PASS",
    "CheckVersionFollowsSemver": "PASS",
    "CheckConnectorVersionMatchInPyproject": "PASS",
    "CheckPublishToPyPiIsDeclared": "PASS",
    "CheckManifestOnlyConnectorBaseImage": "SKIP",  # manifest-only connectors only
    "CheckConnectorIconIsAvailable": "PASS",
    "CheckConnectorUsesHTTPSOnly": "PASS",
    "AcceptanceTestsEnabledCheck": "SKIP",  # medium and high cloud usage only
}
# Checks that fail until a file the lead owns changes: each entry's mark goes with that change.
KEPT_FAILING = "CheckConnectorUsesPythonBaseImage"


def commit_working_tree(destination: Path) -> None:
    """A repository whose HEAD holds the working tree's files as `git add -A` would stage them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out, as a commit would
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=qa", "-c", "user.email=qa@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "working tree"], check=True)


def parse_table(table: str) -> dict[str, tuple[str, str]]:
    """run.sh's table: `STATUS<TAB>Check<TAB>CATEGORY<TAB>message`, a message going on over later lines."""
    results: dict[str, tuple[str, str]] = {}
    check = None
    for line in table.splitlines():
        if row := ROW.match(line):
            check = row["check"]
            results[check] = (row["status"], row["message"])
        elif check is not None:
            status, message = results[check]
            results[check] = (status, f"{message}\n{line}")
    return results


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    checkout = tmp_path_factory.mktemp("qa") / "source-wootric"
    commit_working_tree(checkout)
    QA_WORK.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["bash", str(QA_RUN), str(checkout), "--sl300"],
        cwd=ROOT,
        env={**os.environ, "QA_WORK": str(QA_WORK)},
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    results = parse_table(done.stdout)
    assert done.returncode in (0, 1) and results, (
        f"run.sh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    # run.sh exits 1 exactly when a check failed
    assert (done.returncode == 1) == any(status == "FAIL" for status, _ in results.values()), done.stdout
    return results


def test_the_run_reports_every_known_check(qa: dict[str, tuple[str, str]]) -> None:
    assert set(qa) == {*EXPECTED, KEPT_FAILING}, "connectors-qa's checks changed: review EXPECTED"


@pytest.mark.parametrize(("check", "expected"), EXPECTED.items(), ids=EXPECTED)
def test_check(qa: dict[str, tuple[str, str]], check: str, expected: str) -> None:
    status, message = qa[check]
    assert status == expected, f"{check}: {status}\n{message}"


def test_python_base_image_check_fails_only_for_the_kept_dockerfile(qa: dict[str, tuple[str, str]]) -> None:
    status, message = qa[KEPT_FAILING]
    assert (status, message.startswith("Dockerfile file exists.")) == ("FAIL", True), message
