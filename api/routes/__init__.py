"""One router per resource; each route translates, authorises and calls the engine."""

__all__: list[str] = []  # the app imports each router module by name
