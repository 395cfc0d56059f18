"""Config migrations: a config written for an earlier version becomes one this version's spec accepts.

Built on the CDK's current config-migration types (`ConfigMigration` of `ConfigTransformation`s, what a
declarative spec's `config_migrations` holds) and applied as the CDK's declarative source applies them: when
a migration changed the config, it is written back to the config file and emitted as a CONNECTOR_CONFIG
CONTROL message, from which the platform stores the migrated config.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from copy import deepcopy
from typing import Any

from airbyte_cdk.config_observation import emit_configuration_as_airbyte_control_message
from airbyte_cdk.sources.declarative.spec import ConfigMigration
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)


class DefaultAuthType(ConfigTransformation):
    """0.1.0 left `credentials.auth_type` optional and read a config without it as client credentials."""

    def transform(self, config: MutableMapping[str, Any]) -> None:
        credentials = config.get("credentials")
        if isinstance(credentials, MutableMapping) and "auth_type" not in credentials:
            credentials["auth_type"] = "client_credentials"


CONFIG_MIGRATIONS = [
    ConfigMigration(
        description="0.1.0 configs without credentials.auth_type get client_credentials",
        transformations=[DefaultAuthType()],
    ),
]


def migrate_config(config: MutableMapping[str, Any]) -> tuple[MutableMapping[str, Any], list[str]]:
    """The config with every migration applied, and the descriptions of those that changed it; the given
    config is left unchanged."""
    migrated, applied = deepcopy(config), []
    for migration in CONFIG_MIGRATIONS:
        before = deepcopy(migrated)
        for transformation in migration.transformations:
            transformation.transform(migrated)
        if migrated != before:
            applied.append(migration.description or "unnamed migration")
    return migrated, applied


def migrate_config_file(
    config: MutableMapping[str, Any], config_path: str, logger: logging.Logger
) -> MutableMapping[str, Any]:
    """Migrates `config`, read from `config_path`; a changed config is written back there (when it is a
    regular file: not /dev/stdin) and emitted as a CONTROL message. Returns the config to use."""
    migrated, applied = migrate_config(config)
    if not applied:
        return config
    if os.path.isfile(config_path):
        try:
            with open(config_path, "w", encoding="utf-8") as file:
                json.dump(migrated, file)
        except OSError as error:  # the CONTROL message still reaches the platform, which stores it
            logger.warning(f"The migrated config could not be written back to {config_path}: {error}")
    emit_configuration_as_airbyte_control_message(migrated)
    logger.info(f"The config was migrated to this version: {'; '.join(applied)}.")
    return migrated
