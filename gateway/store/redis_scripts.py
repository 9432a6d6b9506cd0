"""The Lua scripts and URL helper the Redis store uses, kept apart so redis_store.py reads as the store.

Each script runs atomically inside Redis, which is what makes the lock safe (only the holder may
release or extend it) and blocks and snapshots merge without a read-modify-write race between hosts.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# Release / extend only a lock we still hold (its value is our token).
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
EXTEND = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
           "else return 0 end")
# A block only ever moves later; clearing is HDEL.
BLOCK = ("local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') "
          "if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 1")
# Newest `taken_at` wins per key: KEYS = {data hash, taken_at hash}, ARGV = key, taken_at, json, ...
SNAPSHOTS = ("for i = 1, #ARGV, 3 do "
              "local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '-1') "
              "if tonumber(ARGV[i + 1]) >= cur then "
              "redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) "
              "end end return 1")


def redacted(url: str) -> str:
    """The URL without its password, for logs, doctor and /ui."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
