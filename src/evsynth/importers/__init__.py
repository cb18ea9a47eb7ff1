"""Importers: bring a review's data from the tools leads already work in.

Each importer reads one export and writes the project's own inputs, so that everything after
them (validation, synthesis, reports) is unchanged:

- :mod:`~evsynth.importers.eppi`       EPPI-Reviewer JSON -> codebook theme tree, ``codes`` and
  ``studies`` sheets;
- :mod:`~evsynth.importers.covidence`  Covidence extraction CSV + a mapping file -> ``studies``
  and ``outcomes`` sheets;
- :mod:`~evsynth.importers.references` RIS / BibTeX -> the review's references file keyed by
  ``study_id``; and the included studies back out as RIS.

They share :mod:`~evsynth.importers.common`: where they may write, and how (never over a
lead's file without ``--force``, all files or none).
"""
