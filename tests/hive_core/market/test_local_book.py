"""LocalBook: Binance's snapshot + diff procedure, levels, best prices, gaps."""
from __future__ import annotations

import math

from hive_core.market.local_book import APPLIED, BUFFERED, GAP, STALE, LocalBook


def synced_book() -> LocalBook:
    book = LocalBook("BTCUSDT")
    assert book.apply_snapshot(100, [["99.0", "1"], ["98.0", "2"]], [["101.0", "1.5"], ["102.0", "3"]]) == APPLIED
    return book


def test_snapshot_gives_best_prices_mid_and_levels_best_first():
    book = synced_book()
    assert book.synced and book.last_update_id == 100
    assert book.best_bid() == 99.0 and book.best_ask() == 101.0 and book.mid() == 100.0
    assert book.bids() == [(99.0, 1.0), (98.0, 2.0)]
    assert book.asks(1) == [(101.0, 1.5)]


def test_diff_sets_absolute_quantities_and_zero_removes_a_level():
    book = synced_book()
    assert book.apply_diff(101, 103, [["99.0", "0"], ["99.5", "4"]], [["101.0", "2.5"]]) == APPLIED
    assert book.bids() == [(99.5, 4.0), (98.0, 2.0)]
    assert book.asks() == [(101.0, 2.5), (102.0, 3.0)]
    assert book.last_update_id == 103


def test_updates_at_or_below_the_last_update_id_are_dropped_as_stale():
    book = synced_book()
    assert book.apply_diff(90, 100, [["99.0", "0"]], []) == STALE
    assert book.best_bid() == 99.0


def test_a_skipped_update_id_is_a_gap_and_unsyncs_the_book():
    book = synced_book()
    assert book.apply_diff(105, 106, [["97.0", "1"]], []) == GAP
    assert not book.synced
    assert book.buffered() == 1 and book.first_buffered_id() == 105


def test_diffs_before_the_snapshot_are_buffered_then_replayed_from_the_straddling_one():
    book = LocalBook("BTCUSDT")
    assert book.apply_diff(95, 98, [["99.0", "5"]], []) == BUFFERED       # older than the snapshot: dropped
    assert book.apply_diff(99, 102, [["99.0", "7"]], []) == BUFFERED      # straddles lastUpdateId 100
    assert book.apply_diff(103, 104, [], [["101.0", "0"]]) == BUFFERED
    assert book.apply_snapshot(100, [["99.0", "1"]], [["101.0", "1"], ["102.0", "1"]]) == APPLIED
    assert book.bids() == [(99.0, 7.0)]
    assert book.best_ask() == 102.0
    assert book.last_update_id == 104


def test_a_snapshot_older_than_the_first_buffered_diff_asks_for_another():
    book = LocalBook("BTCUSDT")
    book.apply_diff(200, 201, [["99.0", "1"]], [])
    assert book.apply_snapshot(150, [["99.0", "1"]], [["101.0", "1"]]) == GAP
    assert not book.synced
    assert book.apply_snapshot(200, [["99.0", "3"]], [["101.0", "1"]]) == APPLIED
    assert book.bids() == [(99.0, 1.0)]


def test_reset_and_empty_sides():
    book = synced_book()
    book.reset()
    assert not book.synced and book.depth() == (0, 0)
    assert math.isnan(book.mid()) and math.isnan(book.best_bid())
    assert book.bids() == [] and book.asks() == []


def test_many_levels_stay_sorted():
    book = LocalBook("X")
    book.apply_snapshot(1, [[str(100 - i * 0.5), "1"] for i in range(50)],
                        [[str(101 + i * 0.5), "1"] for i in range(50)])
    book.apply_diff(2, 2, [["99.75", "2"], ["90.0", "0"]], [["101.25", "2"]])
    bids = [price for price, _ in book.bids(100)]
    asks = [price for price, _ in book.asks(100)]
    assert bids == sorted(bids, reverse=True) and 90.0 not in bids and 99.75 in bids
    assert asks == sorted(asks) and asks[:3] == [101.0, 101.25, 101.5]
