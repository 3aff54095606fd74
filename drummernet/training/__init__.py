"""Unsupervised training: configs, reconstruction losses, training data (unlabeled audio and
synthetic stems rendered from drum MIDI) and the trainer."""
