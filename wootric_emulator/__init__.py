"""A local, fast, deterministic stand-in for the Wootric REST API (see README.md)."""

from .data import ALL_PROPERTY_KINDS, DatasetSpec
from .emulator import Emulator
from .faults import KINDS as FAULT_KINDS
from .faults import Fault

__all__ = ["ALL_PROPERTY_KINDS", "FAULT_KINDS", "DatasetSpec", "Emulator", "Fault"]
