"""moto_server with atomic DynamoDB item writes.

moto's threaded server runs each request on its own thread, and its DynamoDB backend evaluates a
condition expression and applies the write in two steps without a lock, so two concurrent
conditional writes can both succeed. Real DynamoDB never allows that, and the delivery ledger's
exactly-once guarantee rests on it. This wrapper serialises item reads and writes behind one lock
(other services keep their threads, so SQS long polls still overlap) and then runs moto's own
server entry point with the same arguments.
"""
import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend

_lock = threading.RLock()


def _locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)

    return wrapper


for _name in ("get_item", "put_item", "update_item", "delete_item", "transact_write_items", "query"):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _locked(getattr(DynamoDBBackend, _name)))

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
