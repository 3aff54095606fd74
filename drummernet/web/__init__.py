"""The local web page of ``drummernet serve``: drop a recording, see and hear the hits, download.

* :mod:`drummernet.web.reading`: note-reading settings from the page, re-read from a
  transcription's activations without running the model again;
* :mod:`drummernet.web.jobs`: one job per upload, each in its own temporary folder, run one at
  a time;
* :mod:`drummernet.web.charts`: the drum chart, when :mod:`drummernet.notation` is installed;
* :mod:`drummernet.web.app`: the Starlette application (the HTTP API and the static page);
* :mod:`drummernet.web.security`: what keeps other sites and other computers out;
* :mod:`drummernet.web.server`: :func:`~drummernet.web.server.serve`, the app on uvicorn;
* ``static/``: the page itself, plain HTML, JavaScript and CSS with nothing fetched from
  elsewhere, so it works offline.

Starlette and uvicorn come with the ``web`` extra (``pip install 'drummernet[web]'``); importing
this package alone needs neither.
"""
