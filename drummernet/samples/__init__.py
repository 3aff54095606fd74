"""Sample organiser and kit builder: name every one-shot in a folder, sort them, build a kit.

- :mod:`~drummernet.samples.features`: a bounded excerpt of a file -> a fixed-length description
  of its hit, and how many attacks it holds;
- :mod:`~drummernet.samples.classify`: files -> :class:`~drummernet.samples.classify.SampleRecord`
  (class, component, confidence, reason), streamed (``drummernet.classify_samples``);
- :mod:`~drummernet.samples.organize`: records -> CSV / JSON, and an ``OUT/<class>/...`` tree of
  links or copies;
- :mod:`~drummernet.samples.kit_builder`: records -> the best one-shot per component -> a kit
  folder that ``--kit`` accepts.

This layer sits above the model and below the CLI; transcription never imports it.
"""
