"""One router per resource; each route translates, authorises and calls the engine."""
