"""The compiled Gi* permutation kernels: esda's draws, the counts of the simple reference, and the
cache of the drawn ids."""

from __future__ import annotations

import numpy as np
import pytest
from esda.crand import vec_permutations

from gridwatch.hotspots import _permutation
from gridwatch.hotspots._permutation import cached_permutation_ids, count_larger, permutation_ids


@pytest.mark.parametrize(("max_card", "n", "permutations", "seed"), [
    (1, 2, 5, 0), (2, 3, 7, 1), (5, 10, 50, 3), (8, 100, 99, 20240101), (9, 1000, 99, 2**32 - 1),
    (12, 5000, 20, 7), (3, 65, 30, 11), (4, 66, 30, 12),  # 64 and 65 ids: the mask boundary
])
def test_ids_are_esdas_and_numpys_legacy_permutations(max_card, n, permutations, seed):
    ours = permutation_ids(max_card, n, permutations, seed)
    np.testing.assert_array_equal(ours, vec_permutations(max_card, n, permutations, seed))
    legacy = np.random.RandomState(seed)
    expected = np.stack([legacy.permutation(n - 1)[:max_card] for _ in range(permutations)])
    np.testing.assert_array_equal(ours, expected)


def test_ids_reject_a_seed_numpy_would_reject():
    with pytest.raises(ValueError, match="seed"):
        permutation_ids(2, 10, 5, -1)
    with pytest.raises(ValueError, match="seed"):
        permutation_ids(2, 10, 5, 2**32)
    with pytest.raises(ValueError, match="max_card"):
        permutation_ids(10, 10, 5, 1)


def _count_area_by_area(y, observed, card, pid):
    larger = np.zeros(y.size, dtype=np.int64)
    for i in range(y.size):
        if card[i] == 0:
            continue
        ids = pid[:, : card[i]]
        ids = np.where(ids < i, ids, ids + 1)
        larger[i] = int((y[ids].sum(axis=1) >= observed[i]).sum())
    return larger


@pytest.mark.parametrize("values", ["counts", "halves"])
def test_counts_equal_the_area_by_area_reference(values):
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.poisson(1.5, n).astype(float)
    if values == "halves":  # many exact ties, with sums that are exact in binary
        y = y / 2
    card = rng.integers(0, 9, n)
    observed = rng.choice(y, size=(n, 8)).cumsum(axis=1)[np.arange(n), np.maximum(card - 1, 0)]
    pid = permutation_ids(8, n, 99, 3)
    expected = _count_area_by_area(y, observed, card, pid)
    np.testing.assert_array_equal(count_larger(y, observed, card, pid), expected)


def test_ids_are_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    _permutation._MEMORY.clear()
    first = cached_permutation_ids(4, 50, 30, 9, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, permutation_ids(4, 50, 30, 9))
    files = list(tmp_path.glob("permutations-*.npz"))
    assert len(files) == 1
    assert cached_permutation_ids(4, 50, 30, 9, cache_dir=tmp_path) is first  # memory
    _permutation._MEMORY.clear()
    drawn: list[tuple[int, ...]] = []
    original = _permutation.permutation_ids

    def counting(*args):
        drawn.append(args)
        return original(*args)

    monkeypatch.setattr(_permutation, "permutation_ids", counting)
    np.testing.assert_array_equal(cached_permutation_ids(4, 50, 30, 9, cache_dir=tmp_path), first)
    assert drawn == []  # read from the file
    # other arguments: another file, never the first one's ids
    other = cached_permutation_ids(4, 50, 30, 10, cache_dir=tmp_path)
    assert drawn == [(4, 50, 30, 10)]
    assert not np.array_equal(other, first)
    assert len(list(tmp_path.glob("permutations-*.npz"))) == 2


def test_a_damaged_or_foreign_cache_file_is_drawn_again(tmp_path):
    _permutation._MEMORY.clear()
    expected = cached_permutation_ids(3, 40, 20, 5, cache_dir=tmp_path)
    (path,) = tmp_path.glob("permutations-*.npz")
    path.write_bytes(b"not a zip file")
    _permutation._MEMORY.clear()
    np.testing.assert_array_equal(cached_permutation_ids(3, 40, 20, 5, cache_dir=tmp_path),
                                  expected)
    # a file whose stored arguments are another run's (e.g. copied over) is not trusted
    wrong = permutation_ids(3, 40, 20, 6)
    np.savez(path, ids=wrong, meta=np.asarray('{"format": 1, "args": [3, 40, 20, 6]}'))
    _permutation._MEMORY.clear()
    np.testing.assert_array_equal(cached_permutation_ids(3, 40, 20, 5, cache_dir=tmp_path),
                                  expected)
    # ids out of range for the areas are not trusted either
    meta = str(np.load(path)["meta"])
    np.savez(path, ids=np.full((20, 3), 39, dtype=np.int64), meta=np.asarray(meta))
    _permutation._MEMORY.clear()
    np.testing.assert_array_equal(cached_permutation_ids(3, 40, 20, 5, cache_dir=tmp_path),
                                  expected)
