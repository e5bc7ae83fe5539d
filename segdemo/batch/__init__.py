"""Folders of any size: the batch engines behind ``python -m segdemo segment``.

One job, two engines, one set of files:

- :mod:`~segdemo.batch.photos`: the run's photo list (stable image ids, unique output stems);
- :mod:`~segdemo.batch.job`: :class:`~segdemo.batch.job.Job`, the per-photo job (decode →
  segment → write, the segment table last) and what "done" means;
- :mod:`~segdemo.batch.local`: the local engine, a pipeline that overlaps decoding and writing
  with the model;
- :mod:`~segdemo.batch.ray`: the Ray engine, the same job in Ray Data actors (needs
  ``requirements-scale.txt``; Ray is imported only when it runs);
- :mod:`~segdemo.batch.runner`: one run with either engine: resume, progress bar,
  ``failures.json``;
- :mod:`~segdemo.batch.dataset`: the ``--format`` files, built from the per-photo files on disk.
"""
