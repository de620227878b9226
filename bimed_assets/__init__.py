"""bimed: bilingual medical instruction corpora as Dagster assets."""

import atexit
import gc

# At exit Python's collector makes a last pass over every object still alive: Dagster's, Polars', pandas' and this
# project's, ~0.4 s of CPU in each process that loads the project (a run, a step or check process, a CLI), measured
# with /usr/bin/time on loading bench/partitioned_location.py and exiting. A backfill's runs end while the others
# still send, on the same cores. Frozen, the objects are left to the operating system, which frees the whole process
# at once; atexit's other handlers (logging's flush, temporary directories' clean-up) still run.
atexit.register(gc.freeze)
