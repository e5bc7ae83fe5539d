"""segdemo: semantic, instance and panoptic segmentation, shown and taken away.

Importing the package changes nothing in the host process; the entry points apply their
process settings themselves (see :mod:`segdemo.process`).
"""
