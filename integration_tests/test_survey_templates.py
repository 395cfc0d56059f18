"""The account's survey templates: every template as Wootric's answer holds it, `is_default` from
`default_survey_template_id`; a plan without them (403) or a region without them (404) leaves the stream empty
with one warning, and the sync goes on."""

from __future__ import annotations

import pytest

from integration_tests.connector import catalog, config_for, read
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(300)


def test_every_template_is_read_and_the_default_one_is_marked(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=20, seed=4))
    out = read(tmp_path, config=config_for(emulator), catalog=catalog(survey_templates="full_refresh"))
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    answer = emulator.data.survey_templates()
    records = {record["id"]: record for record in out.records["survey_templates"]}
    assert set(records) == {template["id"] for template in answer["survey_templates"]}
    for template in answer["survey_templates"]:
        record = records[template["id"]]
        assert {key: record[key] for key in template} == template
        assert record["is_default"] is (template["id"] == answer["default_survey_template_id"])
    assert emulator.counters["/v1/survey_templates"] == {200: 1}


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_path_gives_an_empty_stream_and_one_warning(make_emulator, tmp_path, status):
    emulator = make_emulator(dataset=DatasetSpec(users=20, seed=4, survey_templates_status=status))
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(survey_templates="full_refresh", segments="full_refresh"),
    )
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    assert out.records["survey_templates"] == []
    assert len(out.records["segments"]) == len(emulator.segments)  # the sync goes on
    warnings = [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert len(warnings) == 1 and warnings[0].startswith(f"survey_templates: Wootric answered HTTP {status}")
    assert emulator.counters["/v1/survey_templates"] == {status: 1}
