"""Load tests of a running ``dispatch serve`` (locust).

Locust loads ``simulations/load/locustfile.py`` by path (``locust -f ...``).
Nothing is re-exported here: importing locust monkey-patches the process
(gevent), so the locustfile is only ever imported by locust itself.
"""

__all__: list[str] = []
