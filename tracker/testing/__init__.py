"""Support shared by the tests and the benchmarks: servers on loopback and the
load scenario. Like the rest of ``tracker``, nothing here imports an app when
it is imported, and nothing writes through an app's code: data goes in through
``manage.py`` and HTTP. The load check reads names as people.matching keys them."""
