"""Where gridwatch's Gi* pseudo p-values differ from esda's, say why (not a unit test).

On a store and a date, with the project's weights and permutations: gridwatch's ``p`` against
the exact area-by-area reference of ``tests/test_hotspots_gistar.py`` (every area), and
against esda's ``G_Local`` (same values, weights and seed); of the areas where esda differs,
how many have a draw whose neighbour sum ties the observed one exactly, which gridwatch counts
and esda's floating-point sums may miss. Run::

    .venv/bin/python benchmarks/check_gistar_ties.py --config /work/scale/D2/gridwatch.toml \\
        --db sqlite:////work/scale/bench/store.sqlite --as-of 2026-10-28
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_hotspots_gistar import _pseudo_p_area_by_area


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--layer", default="microgrid")
    parser.add_argument("--as-of", default=None, help="Local date (default: last report).")
    args = parser.parse_args()

    import esda

    from gridwatch.config import load_config
    from gridwatch.hotspots import build_weights, gi_star
    from gridwatch.supervision.context import open_context

    ctx = open_context(load_config(args.config), args.db)
    settings = ctx.settings.hotspots
    areas = ctx.areas(args.layer)
    values = ctx.hotspots(layer=args.layer, method="gistar", as_of=args.as_of)["value"] \
        .to_numpy(float)
    weights = build_weights(areas, kind=settings.weights, k=settings.knn_k,
                            distance_m=settings.distance_m, cache_dir=ctx.cache_dir)
    perms, seed = settings.permutations, settings.seed
    ours = gi_star(areas, values, weights=weights, permutations=perms, seed=seed)["p"] \
        .to_numpy(float)
    binary = sp.csr_matrix((weights.matrix != 0).astype(float))
    exact, ties = _pseudo_p_area_by_area(values, binary, permutations=perms, seed=seed)
    exact = np.minimum(1.0, 2.0 * exact)  # two-sided, as gridwatch reports it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(values, weights.to_graph(), transform="B", star=True,
                           permutations=perms, seed=seed, keep_simulations=False, n_jobs=1)
    counts = np.rint(np.asarray(ref.p_sim, dtype=float) * (perms + 1))  # float32 in esda
    differ = ~np.isclose(ours, np.minimum(1.0, 2.0 * counts / (perms + 1)), rtol=1e-9)
    print(f"areas: {len(ours):,}; gridwatch equals the exact reference in "
          f"{int(np.isclose(ours, exact, rtol=1e-12).sum()):,}")
    print(f"differ from esda: {int(differ.sum()):,}; of which an exact tie: "
          f"{int((differ & ties).sum()):,}; differences without a tie: "
          f"{int((differ & ~ties).sum()):,}")


if __name__ == "__main__":
    main()
