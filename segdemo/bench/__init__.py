"""segdemo's benchmarks: ``python -m segdemo.bench`` (see ``__main__``); the shared timing and
reporting helpers are in :mod:`segdemo.bench.timing`, one suite module per part of the demo."""
