"""Rasa's Redis lock store with its ticket updates made atomic, for several replicas.

Rasa 3.6's ``RedisLockStore`` keeps each conversation's ticket queue as one JSON value and
changes it by reading, editing and writing it back. When two replicas receive messages of the
same resident at the same moment, both read "no lock", both create one with ticket 0, and both
go on at once: the conversation interleaves and the tracker store loses one message's events
(the fleet test of two simultaneous messages showed it). Here each change of the queue is one
Redis transaction (WATCH/MULTI, retried when another replica changed the key meanwhile), so
tickets are unique and the queue is never overwritten. A waiting message also looks again every
50 ms instead of every second, so messages that queue behind each other do not each lose a
second.

endpoints.yml::

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 1
      key_prefix: fraudbot
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any, Callable

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05
"""How often a waiting message checks whether its turn has come."""


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket queue changes are atomic across processes."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by its module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def _change(self, conversation_id: str, change: Callable[[TicketLock], Any]) -> Any:
        """Apply ``change`` to the conversation's lock in one transaction; its result.

        The lock is created when missing, saved after the change, and deleted when no ticket is
        left in it (nobody holds or waits for the conversation).
        """
        key = self._key(conversation_id)

        def transaction(pipe: Any) -> Any:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else TicketLock(conversation_id)
            result = change(lock)
            lock.remove_expired_tickets()
            pipe.multi()
            if lock.tickets:
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # removing the ticket deletes the lock when nobody waits, in the same transaction
        self.finish_serving(conversation_id, ticket_number)

    def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = POLL_SECONDS) -> AbstractAsyncContextManager[TicketLock]:
        return super().lock(conversation_id, lock_lifetime, min(wait_time_in_seconds, POLL_SECONDS))
