"""Evaluation: labelled datasets, onset scoring with mir_eval, reports and baselines."""
