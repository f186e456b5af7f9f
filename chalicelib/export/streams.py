"""Where export files go while they are written: straight to S3 (multipart uploads, nothing on disk), or to a
local directory (the writers' own tests and tools). Both count the bytes and hash them as they pass, so the
manifest needs no second read of a file.

An S3 file is buffered in memory up to one part: a file smaller than that is one PutObject; a bigger one is a
multipart upload of `part_size` parts (S3 wants at least 5 MiB for every part but the last), each part sent
by a worker thread while the writer goes on, at most MAX_PARTS_IN_FLIGHT per file. A failure aborts the
upload, so no partial object is ever left under an export key; a file that was already whole under the key
(a re-run of the day) keeps its previous bytes.
"""

from __future__ import annotations

import hashlib
import io
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from chalicelib import aws

MIB = 1 << 20
# S3's floor for every part but the last; PART_SIZE above it keeps a 2 GB file under 250 parts (limit 10,000).
S3_MIN_PART_SIZE = 5 * MIB
PART_SIZE = 8 * MIB
# Parts of one file uploading while its writer goes on: bounds memory at (this + 1) parts per open file.
MAX_PARTS_IN_FLIGHT = 2
UPLOAD_THREADS = 4
# Bytes read at a time from an object that S3 copies into a file, to hash them.
COPY_READ_SIZE = 1 * MIB


# A NamedTuple, not a dataclass: chalicelib/records.py says why.
class WrittenFile(NamedTuple):
    """One finished export file: where it is, its size and its sha256 (as the manifest lists them)."""

    location: str  # the S3 key, or the local path
    bytes: int
    sha256: str

    @property
    def path(self) -> Path:
        return Path(self.location)


class OutputFile(io.RawIOBase):
    """A binary file that is only written to, front to back, counting and hashing what passes. Subclasses
    send the bytes somewhere (`_send`), finish (`_finish`) and give up (`_discard`)."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location
        self._digest = hashlib.sha256()
        self._size = 0
        self.written: WrittenFile | None = None
        self.aborted = False

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data: Any) -> int:
        if self.aborted:
            return len(memoryview(data))  # a wrapper's late flush (pyarrow's or gzip's finalizer): dropped
        if self.closed:
            raise ValueError(f"write to a closed export file ({self.location})")
        view = memoryview(data).cast("B")
        self._count(view)
        self._send(view)
        return len(view)

    def _count(self, view: memoryview) -> None:
        self._digest.update(view)
        self._size += len(view)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._finish()
        except BaseException:
            self._discard()
            raise
        finally:
            super().close()
        self.written = WrittenFile(self.location, self._size, self._digest.hexdigest())

    def abort(self) -> None:
        """Give the file up: nothing of it is left where it was going."""
        if not self.closed:
            self.aborted = True
            self._discard()
            super().close()

    @abstractmethod
    def _send(self, data: memoryview) -> None:
        """Pass the next bytes on to where the file is going."""

    @abstractmethod
    def _finish(self) -> None:
        """Complete the file where it is going (after the last `_send`)."""

    @abstractmethod
    def _discard(self) -> None:
        """Leave nothing of the file where it was going."""


class LocalFile(OutputFile):
    """An export file on the local disk (the writers' tests and tools; the export itself goes to S3)."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self._file: BinaryIO = path.open("wb")

    def _send(self, data: memoryview) -> None:
        self._file.write(data)

    def _finish(self) -> None:
        self._file.close()

    def _discard(self) -> None:
        self._file.close()
        Path(self.location).unlink(missing_ok=True)


class S3File(OutputFile):
    """An export file streamed to one S3 key: one PutObject when it stays under a part, else a multipart
    upload whose parts are sent as they fill; aborted on any failure."""

    def __init__(
        self,
        bucket: str,
        key: str,
        content_type: str,
        uploads: ThreadPoolExecutor,
        part_size: int = PART_SIZE,
    ) -> None:
        super().__init__(key)
        self._bucket, self._content_type, self._part_size = bucket, content_type, part_size
        self._uploads = uploads
        self._s3 = aws.client("s3")
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._in_flight: deque[Future[dict[str, Any]]] = deque()

    def _send(self, data: memoryview) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._upload_part(part)

    def _upload_part(self, body: bytes) -> None:
        self._add_part(self._put_part, body)

    def append_object(self, source_key: str, size: int) -> None:
        """Append the bytes of another object of the bucket (a part of a fanned-out day, export/fanout.py):
        copied by S3 itself (UploadPartCopy) where they can make a part on their own, uploaded from here only
        to top a part up to the part size or as the file's last bytes. They are read once to be hashed
        (the manifest's sha256 is of the whole file), never sent back through here when S3 copies them."""
        body = self._s3.get_object(Bucket=self._bucket, Key=source_key)["Body"]
        position = 0
        if self._buffer:  # the bytes before these must first make a whole part
            head = body.read(min(size, self._part_size - len(self._buffer)))
            position = len(head)
            self.write(head)
        rest = size - position
        if rest < self._part_size or self._buffer:
            for chunk in body.iter_chunks(COPY_READ_SIZE):
                self.write(chunk)
            return
        self._add_part(self._copy_part, source_key, position, size - 1)
        for chunk in body.iter_chunks(COPY_READ_SIZE):
            self._count(memoryview(chunk))

    def _add_part(self, send: Callable[..., dict[str, Any]], *source: Any) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self.location, ContentType=self._content_type
            )["UploadId"]
        number = len(self._parts) + len(self._in_flight) + 1
        self._in_flight.append(self._uploads.submit(send, number, *source))
        while len(self._in_flight) > MAX_PARTS_IN_FLIGHT:
            self._parts.append(self._in_flight.popleft().result())

    def _copy_part(self, number: int, source_key: str, first: int, last: int) -> dict[str, Any]:
        response = self._s3.upload_part_copy(
            Bucket=self._bucket,
            Key=self.location,
            UploadId=self._upload_id,
            PartNumber=number,
            CopySource={"Bucket": self._bucket, "Key": source_key},
            CopySourceRange=f"bytes={first}-{last}",
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    def _put_part(self, number: int, body: bytes) -> dict[str, Any]:
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self.location, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _finish(self) -> None:
        if self._upload_id is None:
            key, body = self.location, bytes(self._buffer)
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=self._content_type)
            return
        if self._buffer:
            self._upload_part(bytes(self._buffer))
            self._buffer.clear()
        while self._in_flight:
            self._parts.append(self._in_flight.popleft().result())
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self.location,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def _discard(self) -> None:
        self._buffer.clear()
        for pending in self._in_flight:
            pending.cancel()
        for pending in self._in_flight:
            if not pending.cancelled():
                pending.exception()  # wait, so no part lands after the abort
        self._in_flight.clear()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self.location, UploadId=self._upload_id)
            self._upload_id = None


class FileTarget(Protocol):
    """Opens the export files of one run; `abort_all` gives up every file not finished yet."""

    def open(self, filename: str, key_prefix: str, content_type: str) -> OutputFile: ...

    def abort_all(self) -> None: ...


class LocalDirectory:
    """Export files in a local directory, by file name (the key prefix is S3's layout, not used here)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: list[OutputFile] = []

    def open(self, filename: str, key_prefix: str = "", content_type: str = "") -> OutputFile:
        file = LocalFile(self.directory / filename)
        self._open.append(file)
        return file

    def abort_all(self) -> None:
        for file in self._open:
            file.abort()


class S3Day:
    """The export files of one day in the export bucket: <key_prefix>dt=YYYY-MM-DD/<filename>, each streamed
    by an S3File sharing one pool of upload threads. A context manager: leaving it on an error aborts every
    upload still open."""

    def __init__(self, bucket: str, partition: str, part_size: int = PART_SIZE) -> None:
        self.bucket, self.partition, self.part_size = bucket, partition, part_size
        self._uploads = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="export-upload")
        self._open: list[S3File] = []

    def key(self, filename: str, key_prefix: str) -> str:
        return f"{key_prefix}{self.partition}{filename}"

    def open(self, filename: str, key_prefix: str, content_type: str) -> OutputFile:
        key = self.key(filename, key_prefix)
        file = S3File(self.bucket, key, content_type, self._uploads, self.part_size)
        self._open.append(file)
        return file

    def abort_all(self) -> None:
        for file in self._open:
            file.abort()

    def __enter__(self) -> S3Day:
        return self

    def __exit__(self, error_type: object, error: object, traceback: object) -> None:
        try:
            if error_type is not None:
                self.abort_all()
        finally:
            self._uploads.shutdown(wait=True, cancel_futures=True)


def as_target(where: Path | FileTarget) -> FileTarget:
    """A writer's destination: a directory path stands for LocalDirectory(path)."""
    return LocalDirectory(where) if isinstance(where, Path) else where
