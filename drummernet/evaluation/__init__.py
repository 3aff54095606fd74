"""Evaluation: labelled datasets, onset scoring with mir_eval, reports and baselines.

* :mod:`~drummernet.evaluation.annotations`: annotation files (text, MIDI) -> onsets per label;
* :mod:`~drummernet.evaluation.datasets`: dataset folders -> :class:`~.datasets.Track` objects;
* :mod:`~drummernet.evaluation.metrics`: onset matching and counts (:class:`~.metrics.OnsetScore`);
* :mod:`~drummernet.evaluation.report`: per-track and aggregate scores, as a table or JSON;
* :mod:`~drummernet.evaluation.scoring`: :func:`~.scoring.evaluate`, a system over a dataset;
* :mod:`~drummernet.evaluation.systems`: DrummerNet as a system;
* :mod:`~drummernet.evaluation.baselines`: the band-wise spectral-flux baseline as a system.
"""
