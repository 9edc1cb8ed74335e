"""``make demo``: a scripted day of a small shop through the real topics and services.

Modules: :mod:`.script` (the day and its expected numbers, pure), :mod:`.runner` (starts the
services, plays the day, checks, summarises), :mod:`.outputs` (reads what the processor
published), :mod:`.view` (the terminal view), :mod:`.stub_marketplace` (the marketplace the
sync worker pushes to), :mod:`.procs` and :mod:`.stop` (pid files; standard library only, so
``make demo-stop`` works without a virtualenv). See docs/demo.md.

Nothing is imported here: ``python3 -m stocksignal.demo.stop`` must not pull in dependencies.
"""
