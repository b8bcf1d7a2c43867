"""One call to an LTI Advantage service: token, exact media types, paging, retries, and who hears of it.

AGS and NRPS (lti/ags.py, lti/nrps.py) are thin on top of this. Every call goes through the
shared-token connector (tokens cached per issuer + client_id + scopes); a 401 drops the cached
token and tries once more with a new one (the platform expired or revoked it early); 429, 5xx,
time-outs and connection failures are retried with exponential backoff and jitter, honouring
Retry-After; every outcome is told to an observer, which the service layer records as service
health. Whatever still fails is an LmsServiceError, retryable or permanent.
"""
from __future__ import annotations

import json
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from .errors import LmsServiceError
from .service_connector import SharedTokenConnector

T = TypeVar("T")
P = TypeVar("P")
# The names service health files the outcomes under (lti_tool.services.service_health.Service values).
ACCESS_TOKEN, AGS, NRPS = "access_token", "ags", "nrps"


class CallObserver(Protocol):
    def __call__(self, service: str, *, is_ok: bool, status: int | None, detail: str | None) -> None: ...


def _ignore(service: str, *, is_ok: bool, status: int | None, detail: str | None) -> None:
    pass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is tried again (sleep is injectable for tests)."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: give up now."""
        if attempt >= self.attempts:
            return None
        # "Equal jitter": at least half the exponential step, so retries spread without collapsing to 0.
        step = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        wait = step / 2 + self.random() * step / 2
        if retry_after is not None:
            if retry_after > self.max_delay:
                return None  # the platform asks for more patience than a sync has: fail, retry later
            wait = max(wait, retry_after)
        return wait


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Page:
    body: Any
    next_url: str | None


@dataclass
class ServiceClient:
    connector: SharedTokenConnector
    observer: CallObserver = _ignore
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def get(self, service: str, scopes: Sequence[str], url: str, accept: str) -> Page:
        response = self._call(service, scopes, url, accept=accept)
        return Page(response["body"], response["next_page_url"])

    def pages(self, service: str, scopes: Sequence[str], url: str | None, accept: str) -> Iterator[Page]:
        """Every page, following rel="next" in whatever shape the platform writes its Link header."""
        seen: set[str] = set()
        while url:
            if url in seen:  # a platform that links a page to itself must not keep us here forever
                raise LmsServiceError(f"{url}: the next page is a page already read", is_permanent=True)
            seen.add(url)
            page = self.get(service, scopes, url, accept)
            yield page
            url = page.next_url

    def post(self, service: str, scopes: Sequence[str], url: str, body: dict, *, content_type: str,
             accept: str = "application/json", retry: RetryPolicy | None = None) -> Any:
        response = self._call(service, scopes, url, accept=accept, data=json.dumps(body),
                              content_type=content_type, retry=retry)
        return response["body"]

    def _call(self, service: str, scopes: Sequence[str], url: str, *, accept: str, data: str | None = None,
              content_type: str = "application/json", retry: RetryPolicy | None = None) -> dict:
        policy = retry or self.retry
        attempt = 0
        renewed_token = False
        while True:
            attempt += 1
            try:
                # The token first, so a failing token endpoint is told apart from a failing service.
                self.connector.get_access_token(scopes)
            except LmsServiceError as error:
                failure, failed = error, ACCESS_TOKEN
            else:
                try:
                    response = self.connector.make_service_request(
                        scopes, url, is_post=data is not None, data=data, content_type=content_type, accept=accept)
                except LmsServiceError as error:
                    if error.status == 401 and not renewed_token:
                        # The token was good when cached: the platform ended it early. A new one, once.
                        self.observer(service, is_ok=False, status=401, detail=f"{url}: token refused, renewing it")
                        self.connector.forget_access_token(scopes)
                        renewed_token = True
                        attempt -= 1
                        continue
                    failure, failed = error, service
                else:
                    self.observer(service, is_ok=True, status=200, detail=None)
                    return response
            self.observer(failed, is_ok=False, status=failure.status, detail=str(failure))
            wait = None if failure.is_permanent else policy.delay(attempt, failure.retry_after)
            if wait is None:
                raise failure
            policy.sleep(wait)


_END = object()


def pages_concurrently(sources: Sequence[T], pages_of: Callable[[T], Iterable[P]], *, workers: int,
                       depth: int = 4) -> Iterator[tuple[T, P | None]]:
    """The pages of many sources (line items), fetched by `workers` threads, handed over as they arrive.

    A sync mostly waits for the platform; fetching a few line items at once overlaps that waiting
    with the work on pages already here. `pages_of` runs in the worker threads (give each its own
    HTTP session). `(source, None)` follows a source's last page. At most `depth` pages wait, so
    memory stays a few pages; an error in a worker is raised here, and when the caller stops early
    the workers stop too.
    """
    if workers <= 1 or len(sources) <= 1:
        for source in sources:
            for page in pages_of(source):
                yield source, page
            yield source, None
        return
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    take_lock = threading.Lock()
    todo = iter(sources)

    def put(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                with take_lock:
                    source = next(todo, _END)
                if source is _END:
                    break
                for page in pages_of(source):
                    if not put((source, page)):
                        return
                if not put((source, None)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put((_END, error))
            return
        put((_END, None))

    threads = [threading.Thread(target=work, name="lms-fetch", daemon=True) for _ in range(min(workers, len(sources)))]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(threads):
            source, payload = waiting.get()
            if source is _END:
                if payload is not None:
                    raise payload
                finished += 1
                continue
            yield source, payload
    finally:
        stop.set()
        for thread in threads:
            thread.join()
