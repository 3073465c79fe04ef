"""Surge rule sets on Redis: the global set in the global slot, a community's own in its slot.

Keys: ``P:{~}:rules`` + ``P:{~}:rules-version`` (the active global set),
``P:{~}:rules-counter`` (one counter numbers the versions of every scope, so a
version names one rule set), ``P:{~}:rules-history`` (hash version → the
activation: its rules and the caller's ``meta``); per community
``P:{cid}:rules`` + ``P:{cid}:rules-version`` and ``P:{cid}:rules-history``.
A community's version is drawn from the global counter first (its own slot
cannot be touched by a script of the global slot), then stored with one
script in the community's slot that never replaces a newer active set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dispatch.store._redis_base import RedisBase, dumps

__all__ = ["RedisRules"]

# KEYS[1] counter, KEYS[2] global version: the next version of any scope (never at or
# below the global one, so stores written before the counter existed keep counting up).
NEXT_VERSION = """
local v = redis.call('INCR', KEYS[1])
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
if v <= g then
  v = g + 1
  redis.call('SET', KEYS[1], v)
end
return v
"""

# KEYS[1] version, KEYS[2] rules, KEYS[3] history; ARGV[1] version, ARGV[2] rules JSON,
# ARGV[3] history entry JSON. Activates unless a newer version is active; always logged.
STORE_VERSION = """
local v = tonumber(ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
end
return v
"""


class RedisRules(RedisBase):
    """The rule-set methods of ``RedisStore`` (see the module docstring)."""

    _next_version: Any = None
    _store_version: Any = None

    def _rule_keys(self, community_id: str | None) -> tuple[str, str, str]:
        if community_id is None:
            return self._g("rules-version"), self._g("rules"), self._g("rules-history")
        k = self._k
        cid = community_id
        return k(cid, "rules-version"), k(cid, "rules"), k(cid, "rules-history")

    def get_rules(self, community_id: str | None = None) -> dict[str, Any] | None:
        version_key, rules_key, _ = self._rule_keys(community_id)
        raw, version = self._call(self.r.mget, [rules_key, version_key])
        if not raw or not version:
            return None
        return {**json.loads(raw), "version": int(version)}

    def rules_version(self, community_id: str | None = None) -> int:
        raw = self._call(self.r.get, self._rule_keys(community_id)[0])
        return int(raw) if raw else 0

    def put_rules(
        self,
        data: Mapping[str, Any],
        community_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        if self._next_version is None:
            self._next_version = self.r.register_script(NEXT_VERSION)
            self._store_version = self.r.register_script(STORE_VERSION)
        body = {k: v for k, v in data.items() if k != "version"}
        counter = [self._g("rules-counter"), self._g("rules-version")]
        v = int(self._call(self._next_version, keys=counter))
        entry = {**dict(meta or {}), "version": v, "data": {**body, "version": v}}
        keys = list(self._rule_keys(community_id))
        args = [v, dumps(body), dumps(entry)]
        self._call(self._store_version, keys=keys, args=args)
        return v

    def rules_history(self, community_id: str | None = None) -> list[dict[str, Any]]:
        raw = self._call(self.r.hgetall, self._rule_keys(community_id)[2])
        entries = [json.loads(x) for x in raw.values()]
        return sorted(entries, key=lambda e: -int(e["version"]))

    def clear_rules(self, community_id: str) -> bool:
        version_key, rules_key, _ = self._rule_keys(community_id)
        return bool(self._call(self.r.delete, version_key, rules_key))
