"""Keep the garbage collector off data that lives until the next reload.

Zone data and the caches built from it are long-lived; queries allocate briskly, so
without this every collection of the old generation rescans them all, and in a forked
worker the scan also writes to pages shared with the main process (copy-on-write).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what the previous data left, then exempt everything alive from collection.

    Call after a load or reload has been swapped in, and in each worker after it forks.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
