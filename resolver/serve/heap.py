"""Keep the garbage collector off data that lives until the next reload.

Zone data and the caches built from it are long-lived; queries allocate briskly, so
without this every collection of the old generation rescans them all, and in a forked
worker the scan also writes to pages shared with the main process (copy-on-write).
"""

from __future__ import annotations

import gc


def settle(collect: bool = True) -> None:
    """Collect what the previous data left, then exempt everything alive from collection.

    Call after a load or reload has been swapped in, and in each worker after it forks.
    Without `collect` (a Route 53 change replaced a few names, freed by reference counts)
    only the new data is exempted: a full collection of a big zone's heap takes a second.
    """
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
