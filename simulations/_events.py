"""Event priorities at equal times: workers act first, demand before reports and ticks."""

AGENT, SHIFT, CANCEL, DEMAND, REPORT, TICK, SAMPLE = range(7)
