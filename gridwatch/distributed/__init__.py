"""The province on a Dask cluster: ``--engine dask`` for the import and the batch questions.

Nothing here schedules work by hand: :mod:`distributed` does (a ``LocalCluster`` of worker
processes when no scheduler address is given, ``Client(address)`` otherwise). Each module
splits one stage of the single-machine path into spatial partitions and calls the SAME
functions on each partition, then combines the results, so the answers are those of the
single-machine path:

- :mod:`~gridwatch.distributed.ingest`: placing (the boundary layers are scattered to every
  worker once; each worker prepares or loads the point-in-polygon index once), results
  gathered and written by the store in one transaction (SQLite), or copied by each worker
  into a staging table of the store and upserted from there in one transaction (PostGIS);
- :mod:`~gridwatch.distributed.questions`: status, league and monthly review counts per
  partition of counties, summed (medians from the gathered closing times; the review's
  enterprise sections from the gathered month-end evaluation of their problems); Gi*
  z-scores and permutation p-values per partition of areas with its halo of neighbours in
  other partitions;
- :mod:`~gridwatch.distributed.emerging`: emerging hot spots, the cube per partition of
  counties, the space-time z-scores and trends per partition of areas with its halo for
  every period.

See docs/scale.md.
"""

from __future__ import annotations

from gridwatch.distributed.cluster import ENGINES, open_client

__all__ = ["ENGINES", "open_client"]
