"""Unsupervised training: configs, reconstruction losses, training data and the trainer.

Modules, from the data up:

- ``performances``: drum performances (hit times, components, velocities), read from drum MIDI;
- ``grooves``: the procedural groove generator (performances with no data needed);
- ``render``: performances rendered with one-shots from a pool of kits, with per-hit variation;
- ``augment``: the random production chain of rendered mixes (reverb, EQ, compression, noise);
- ``stems``: the stream of synthetic crops, and onset targets for the supervised reference;
- ``unlabeled``: random crops of unlabeled audio files, and the mix of training sources;
- ``datasets``: the stream a config asks for, its sampler and the validation set;
- ``losses``, ``teacher``: the reconstruction loss, and the reference points' onset losses;
- ``config``, ``schedules``: hyper-parameters, and what changes with the step;
- ``checkpoints``, ``monitor``, ``runtime``: saving and resuming, metrics, devices and signals;
- ``trainer``: :func:`~drummernet.training.trainer.train`.
"""
