"""How the emulated API departs from Wootric's reference, as the real one has been seen to: all off by
default, each switched on by an :class:`~wootric_emulator.Emulator` keyword of the same name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviours:
    page_cap: int | None = None  # list answers hold at most this many rows, whatever per_page asks
    ignore_sort_key: bool = False  # sort_key is not read: the endpoint's default key is used
    ignore_sort_order: bool = False  # sort_order is not read: the endpoint's default order is used
    ignore_filters: bool = False  # created[..] / updated[..] are not read
    real_errors: bool = False  # 404 and 400 answer the error_list bodies recorded from the real API
    ties_shuffled: bool = False  # rows that tie on the sort key come in a new order on every request

    def __post_init__(self):
        if self.page_cap is not None and self.page_cap < 1:
            raise ValueError("page_cap must be at least 1 (or None)")
