"""The local stack's moto server, made fit for concurrent clients.

moto's DynamoDB backend is not thread-safe: a Query iterating the table while another request writes raises
"dictionary changed size during iteration". What makes it fit (one DynamoDB request at a time; serializable,
undo-logged TransactWriteItems; thread-safe SQS message operations; SQS costs that do not grow with the
queue; moto's module list read once) is moto_patches.fit_for_threads(), shared with the in-process tests and
applied while the server runs.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from chalicelib.local.moto_patches import fit_for_threads


class LocalMotoServer:
    """moto's server on a thread (as ThreadedMotoServer), with moto fit for threads (moto_patches) until
    stopped."""

    def __init__(self, ip_address: str, port: int) -> None:
        self.ip_address, self.port = ip_address, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._patches = ExitStack()

    def start(self) -> None:
        """Listen, and serve on a background thread."""
        self._patches.enter_context(fit_for_threads())
        app = DomainDispatcherApplication(create_backend_app)
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
