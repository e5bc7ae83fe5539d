"""segdemo: semantic, instance and panoptic segmentation, shown and taken away."""

import os

# Before torch is first imported (every entry point imports this package first): OpenMP's
# default spin-waiting makes each multi-threaded op cost ~8 ms whenever another process is busy
# on this kind of small machine (a 256K-element add: 8 ms vs 0.02 ms). Users can override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
