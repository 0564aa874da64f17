"""State stays consistent under concurrent HTTP requests and direct calls from other threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from mockserver.backend import DEFAULT_OWNER


def test_no_lost_writes_between_http_and_direct_calls(live_server, backend):
    per_worker = 40

    def over_http(_: int) -> list[str]:
        with httpx.Client(base_url=live_server.url) as http:
            return [
                http.post("/v1/datasets", json={"projectId": "busy"}).json()["id"] for _ in range(per_worker)
            ]

    def direct(_: int) -> list[str]:
        return [
            backend.datasets.create(DEFAULT_OWNER, {"projectId": "busy"})["id"] for _ in range(per_worker)
        ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(over_http, i) for i in range(3)] + [pool.submit(direct, i) for i in range(3)]
        created = [dataset_id for future in futures for dataset_id in future.result()]

    assert len(created) == len(set(created)) == 6 * per_worker
    listed, token = [], None
    while True:
        page = backend.datasets.list(DEFAULT_OWNER, "busy", 1024, token)
        listed += [d["id"] for d in page.get("datasets", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    assert sorted(listed) == sorted(created)


def test_patch_and_read_never_see_a_torn_record(backend):
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "p", "name": "v0"})
    stop = threading.Event()
    start = threading.Barrier(3)
    seen: set[str] = set()
    torn: list[dict] = []

    def writer() -> None:
        start.wait()
        for i in range(500):
            backend.datasets.patch(DEFAULT_OWNER, dataset["id"], {"name": f"v{i}"}, "name")
        stop.set()

    def reader() -> None:
        start.wait()
        while not stop.is_set():
            record = backend.datasets.get(DEFAULT_OWNER, dataset["id"])
            if set(record) != {"id", "projectId", "name", "createTime"}:
                torn.append(record)
            seen.add(record["name"])

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.datasets.get(DEFAULT_OWNER, dataset["id"])["name"] == "v499"
    assert not torn
    assert seen


def test_every_part_of_the_backend_takes_its_one_lock():
    """Components and IAM keep the backend's lock as an attribute (not looked up per call): it
    must be that very lock, or their methods would stop excluding each other."""
    from mockserver.backend import Backend

    backend = Backend()
    holders = [part for part in vars(backend).values() if hasattr(part, "lock") and part is not backend]
    assert {type(part).__name__ for part in holders} >= {"Iam", "Datasets", "Annotations", "AnnotationSets"}
    assert all(part.lock is backend.lock for part in holders)
    held, released = threading.Event(), threading.Event()

    def hold() -> None:
        with backend.lock:
            held.set()
            released.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    done: list[bool] = []
    searcher = threading.Thread(target=lambda: done.append(bool(backend.datasets.list(DEFAULT_OWNER, "p"))))
    searcher.start()
    searcher.join(0.2)
    assert done == []  # waits for the lock's holder
    released.set()
    searcher.join(5)
    thread.join(5)
    assert done == [False]
