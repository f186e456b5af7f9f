"""The local stack's moto server, made fit for concurrent clients.

moto's DynamoDB backend is not thread-safe: a Query iterating the table while another request writes raises
"dictionary changed size during iteration". So every DynamoDB request is served under one lock
(SerializedDynamoDB). SQS, S3 and SSM requests are not: an SQS long poll must not hold up the rest of the
stack.

The rest (serializable, undo-logged TransactWriteItems; thread-safe SQS message operations; SQS costs that
do not grow with the queue; moto's module list read once) is moto_patches.fit_for_threads(), shared with the
in-process fault suite and applied while the server runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from chalicelib.local.moto_patches import fit_for_threads

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DYNAMODB_TARGET_PREFIX = "DynamoDB_"


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time (the response is fully built inside the lock)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            # Materialised under the lock: moto reads its backend while producing the body.
            return list(self.app(environ, start_response))


class LocalMotoServer:
    """moto's server on a thread (as ThreadedMotoServer), with DynamoDB requests serialized and moto fit
    for threads (moto_patches) until stopped."""

    def __init__(self, ip_address: str, port: int) -> None:
        self.ip_address, self.port = ip_address, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._patches = ExitStack()

    def start(self) -> None:
        """Listen, and serve on a background thread."""
        self._patches.enter_context(fit_for_threads())
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self.ip_address, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, and put moto's originals back."""
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._patches.close()
