"""Fault injection against the real processes (Jepsen style): the harness and its suite test.

``tests.faults.harness.run_faults`` starts a durable redis-server, two API processes
and two tick workers, drives them with order-service and courier clients while a
nemesis kills, pauses and restarts them (and Redis), lets the system settle, then
checks the whole history. ``benchmarks/faults.py`` runs it at length; the suite test
``test_faults.py`` runs a short version.

Modules: ``processes`` (the processes under test), ``clients`` (order services,
couriers, a feed follower), ``nemesis`` (the faults), ``history`` (the checks),
``result`` (a run's settings and findings), ``harness`` (a run, step by step).
"""
