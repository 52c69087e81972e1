"""``python -m example_app`` (``make demo``): the example app, running, and what runs it.

Not part of the app: nothing in ``example_app`` outside this package imports it, and a
deployment runs ``gunicorn example_app.wsgi:app`` instead. ``run.py`` is the demo itself;
``processes.py`` starts and stops child processes without leaving any behind, and is the one
mechanism the integration tests and the benchmarks use too (``tests/support``).
"""
