"""metadata.yaml is valid Airbyte connector metadata and agrees with the Dockerfile and pyproject.toml."""

import importlib.util
import json
import re
import sys
import uuid
from pathlib import Path

import pytest
import tomllib
import yaml
from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
    ConnectorMetadataDefinitionV0,
)

from source_wootric.config import REGION_HOSTS

ROOT = Path(__file__).resolve().parent.parent
API_HOSTS = {host.name for hosts in REGION_HOSTS.values() for host in hosts}
BASE_IMAGE_RE = re.compile(r"^docker\.io/airbyte/python-connector-base:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())


@pytest.fixture(scope="module")
def metadata(raw: dict) -> ConnectorMetadataDefinitionV0:
    return ConnectorMetadataDefinitionV0.model_validate(raw)


def dockerfile_base_image() -> str:
    text = (ROOT / "Dockerfile").read_text()
    found = re.findall(r"^ARG BASE_IMAGE=(\S+)\s*$", text, flags=re.MULTILINE)
    assert len(found) == 1, "the Dockerfile declares ARG BASE_IMAGE=<image> exactly once"
    return found[0]


def test_validates_against_airbyte_model(metadata: ConnectorMetadataDefinitionV0) -> None:
    data = metadata.data
    assert data.name == "Wootric"
    assert data.connector_type.value == "source"
    assert data.connector_subtype.value == "api"
    assert data.docker_repository == "airbyte/source-wootric"
    assert data.github_issue_label == "source-wootric"
    assert data.release_stage.value == "alpha"
    assert data.support_level is not None and data.support_level.value == "community"
    assert data.license == "MIT"
    assert str(data.documentation_url) == "https://docs.airbyte.com/integrations/sources/wootric"
    assert isinstance(data.definition_id, uuid.UUID)


def test_model_rejects_a_broken_copy(raw: dict) -> None:
    """The model really checks: an unknown key and a missing required one are refused."""
    from pydantic import ValidationError

    broken = {"metadataSpecVersion": "1.0", "data": {**raw["data"], "dockerImagTag": "0.1.0"}}
    del broken["data"]["dockerImageTag"]
    with pytest.raises(ValidationError):
        ConnectorMetadataDefinitionV0.model_validate(broken)


def test_base_image_is_digest_pinned_and_matches_dockerfile(
    metadata: ConnectorMetadataDefinitionV0,
) -> None:
    assert metadata.data.connector_build_options is not None
    base = metadata.data.connector_build_options.base_image
    assert base is not None and BASE_IMAGE_RE.match(base), base
    assert dockerfile_base_image() == base


def test_package_matches_metadata(metadata: ConnectorMetadataDefinitionV0) -> None:
    """The version, licence and PyPI name that Airbyte's registries and PyAirbyte read in metadata.yaml are
    those of the package that Poetry builds."""
    poetry = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poetry"]
    assert poetry["version"] == metadata.data.docker_image_tag
    assert poetry["license"] == metadata.data.license
    pypi = metadata.data.remote_registries.pypi
    assert pypi.enabled is True
    assert poetry["name"] == pypi.package_name == "airbyte-source-wootric"


def test_tags_hosts_and_registries(metadata: ConnectorMetadataDefinitionV0) -> None:
    data = metadata.data
    assert {"language:python", "cdk:python"} <= set(data.tags or [])
    assert data.allowed_hosts is not None
    assert set(data.allowed_hosts.hosts or []) == API_HOSTS
    assert data.registry_overrides is not None and data.registry_overrides.oss is not None
    assert data.registry_overrides.oss.enabled is True
    assert data.ab_internal is not None


def test_icon_and_docs_exist(metadata: ConnectorMetadataDefinitionV0) -> None:
    assert metadata.data.icon == "icon.svg"
    icon = (ROOT / "icon.svg").read_text()
    assert "<svg" in icon and "</svg>" in icon
    assert (ROOT / "docs" / "integrations" / "sources" / "wootric.md").is_file()


def test_image_labels_are_metadatas_name_and_version(metadata: ConnectorMetadataDefinitionV0) -> None:
    """The platform reads the connector's name and version from the image's labels (scripts/image_test.sh
    checks the built image's)."""
    text = (ROOT / "Dockerfile").read_text()
    labels = dict(re.findall(r'(io\.airbyte\.[a-z]+)="([^"]*)"', text))
    assert labels == {
        "io.airbyte.name": metadata.data.docker_repository,
        "io.airbyte.version": metadata.data.docker_image_tag,
    }


def test_entrypoint_is_the_console_script() -> None:
    text = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["poetry"]["scripts"]["source-wootric"] == "source_wootric.run:run"
    assert 'AIRBYTE_ENTRYPOINT="source-wootric"' in text
    assert 'ENTRYPOINT ["source-wootric"]' in text
    assert re.search(r"^USER airbyte$", text, flags=re.MULTILINE)


def load_render_erd():
    spec = importlib.util.spec_from_file_location("render_erd", ROOT / "scripts" / "render_erd.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_erd", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_stream_and_column_is_described_and_the_docs_list_every_stream() -> None:
    """The descriptions the Airbyte UI and data catalogs show; the docs page's table of streams names each."""
    docs = (ROOT / "docs" / "integrations" / "sources" / "wootric.md").read_text()
    for path in sorted((ROOT / "source_wootric" / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        assert schema.get("description"), path.name
        undescribed = [name for name, spec in schema["properties"].items() if not spec.get("description")]
        assert not undescribed, (path.name, undescribed)
        assert f"| `{path.stem}` |" in docs, path.stem


def test_erd_matches_stream_schemas() -> None:
    """erd/source.dbml names every stream and exactly the columns of its JSON schema."""
    tables, refs = load_render_erd().parse_dbml((ROOT / "erd" / "source.dbml").read_text())
    schemas = {
        p.stem: json.loads(p.read_text()) for p in (ROOT / "source_wootric" / "schemas").glob("*.json")
    }
    assert set(tables) == set(schemas)
    for name, schema in schemas.items():
        assert [c.name for c in tables[name].columns] == list(schema["properties"]), name
    pks = {name: [c.name for c in t.columns if c.pk] for name, t in tables.items()}
    assert pks["end_users_properties"] == ["end_user_id", "property_key"]
    assert pks["nps_summary"] == ["period", "period_start"]
    assert {(r.table, r.column, r.kind, r.ref_table, r.ref_column) for r in refs} == {
        ("end_users_properties", "end_user_id", ">", "end_users", "id"),
        ("responses", "end_user_id", ">", "end_users", "id"),
        ("declines", "end_user_id", ">", "end_users", "id"),
        ("end_users_properties", "property_key", ">", "segments", "name"),
    }
    assert (ROOT / "docs" / "integrations" / "sources" / "wootric-erd.png").read_bytes()[
        :8
    ] == b"\x89PNG\r\n\x1a\n"
