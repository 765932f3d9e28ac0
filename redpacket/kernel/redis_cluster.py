"""Redis Cluster for the cache and every Redis use behind it (ARCHITECTURE "Growing past
one machine"): with REDIS_CLUSTER=1 the cache's client is a redis-py `RedisCluster`, and
the packet gate, the facts, the shake store, the throttles, the SMS limits and the lockout
— all of which reach Redis through the cache (`django_redis.get_redis_connection`) — run
on it unchanged.

Why a client class of our own: django-redis has none for a cluster (its "sharded" client
hashes keys itself, which breaks the hash tags the Lua scripts rely on). `ClusterClient`
is django-redis's default client with two changes: it connects with `RedisCluster` (one
node of the cluster named in REDIS_URL, the rest discovered), and `get_many` reads keys
of several slots with `mget_nonatomic` (a plain MGET across slots is refused). Everything
else django-redis does (SET with PX/NX, the INCR script on one key, non-transactional
pipelines, SCAN, FLUSHDB on every primary) works on `RedisCluster` as it is.

`queue_script` queues a registered Lua script in a pipeline of either kind: a cluster
pipeline cannot load a script on the node it lands on (EVALSHA of an unknown script
fails there), so it sends the script's text (EVAL; the cluster pipeline has no `eval` method of its
own, the command is queued as is and routed by its key).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ClusterClient(DefaultClient):
    """django-redis's client on a Redis Cluster (`CLIENT_CLASS` when REDIS_CLUSTER=1)."""

    def connect(self, index: int = 0) -> Any:
        pool_kwargs = dict(self._options.get("CONNECTION_POOL_KWARGS", {}))
        pool_class = self._options.get("CONNECTION_POOL_CLASS")
        if isinstance(pool_class, str):
            from django.utils.module_loading import import_string

            pool_kwargs["connection_pool_class"] = import_string(pool_class)
        for option in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
            if option in self._options:
                pool_kwargs[option.lower()] = self._options[option]
        return RedisCluster.from_url(self._server[index], **pool_kwargs)

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        client = client if client is not None else self._clients[index]
        if client is not None:
            client.close()

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict[str, Any]:
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(key, version=version): key for key in keys}
        try:
            results = client.mget_nonatomic(list(map_keys))
        except (RedisConnectionError, RedisTimeoutError) as e:
            raise ConnectionInterrupted(connection=client) from e
        return {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, results, strict=True)
            if value is not None
        }


def queue_script(pipe: Any, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> None:
    """Queue `script` (a redis-py `Script`) with `keys` and `args` in the pipeline `pipe`."""
    if isinstance(pipe, Pipeline):
        script(keys=list(keys), args=list(args), client=pipe)
    else:
        pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
