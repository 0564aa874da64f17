"""What each pytest fixture of the plugin costs per test, measured in one pytest session.

Writes a throw-away test file with ``--tests`` tests in each group below, interleaved
(one test of every group, then the next round), runs it in ONE pytest session, times
every test (set-up + call + tear-down) and prints each group's mean and the per-test
difference against the group it adds one thing to:

======================  ================================================  ===========
group                   test                                              compared to
======================  ================================================  ===========
empty                   ``def test(): pass``                              -
genomics_mock           ``def test(genomics_mock): pass``                 empty
genomics_client         ``def test(genomics_mock, genomics_client)``      genomics_mock
genomics_service        ``def test(genomics_mock, genomics_service)``     genomics_mock
as_user                 genomics_client + ``genomics_client.as_user(..)``  genomics_client
one request             genomics_client + one ``GET /v1/datasets``        genomics_client
======================  ================================================  ===========

The first round (the session server starts there) and the last test (the session ends
there) are left out of the means; "session start" is the set-up time of the session
fixture (imports, the app, the live server), measured on its own.

    python benchmarks/fixtures.py [--tests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: group -> (fixtures, body, baseline group)
GROUPS: dict[str, tuple[str, str, str | None]] = {
    "empty": ("", "pass", None),
    "genomics_mock": ("genomics_mock", "pass", "empty"),
    "genomics_client": ("genomics_mock, genomics_client", "pass", "genomics_mock"),
    "genomics_service": ("genomics_mock, genomics_service", "pass", "genomics_mock"),
    "as_user": ("genomics_mock, genomics_client", 'genomics_client.as_user("alice")', "genomics_client"),
    "one request": (
        "genomics_mock, genomics_client",
        'assert genomics_client.get("/v1/datasets", params={"projectId": "p"}).status_code == 200',
        "genomics_client",
    ),
}

#: a conftest that times each test and the session fixture's set-up, written to RESULTS
TIMING_PLUGIN = '''
import json, os, time
import pytest

TIMES, SESSION = {}, {}

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    began = time.perf_counter()
    yield
    TIMES[item.name] = time.perf_counter() - began

@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    began = time.perf_counter()
    yield
    if fixturedef.argname == "genomics_mock_session":
        SESSION["start"] = time.perf_counter() - began

def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_BENCH_RESULTS"], "w") as handle:
        json.dump({"tests": TIMES, "session": SESSION}, handle)
'''


def test_file(rounds: int) -> str:
    lines = []
    for i in range(rounds):
        for n, (group, (fixtures, body, _)) in enumerate(GROUPS.items()):
            lines += [f"def test_g{n}_r{i}({fixtures}):  # {group}", f"    {body}", ""]
    lines += ["def test_zz_end():  # the session ends in this test's tear-down", "    pass", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300, help="tests per group")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="genomics-mock-fixtures-") as tmp:
        folder = Path(tmp)
        (folder / "conftest.py").write_text(TIMING_PLUGIN)
        (folder / "test_fixture_costs.py").write_text(test_file(args.tests + 1))
        results = folder / "results.json"
        env = {**os.environ, "FIXTURE_BENCH_RESULTS": str(results), "PYTHONPATH": str(ROOT)}
        load_before = os.getloadavg()[0]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                   "-p", "no:xdist", "-W", "ignore::DeprecationWarning", str(folder)]
        run = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"the timed session failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        data = json.loads(results.read_text())
    load_after = os.getloadavg()[0]

    means: dict[str, float] = {}
    for n, group in enumerate(GROUPS):
        times = [data["tests"][f"test_g{n}_r{i}"] for i in range(1, args.tests + 1)]
        means[group] = statistics.fmean(times) * 1000

    print(f"{args.tests} tests per group in one pytest session; cpus: {os.cpu_count()}, "
          f"load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"session start (genomics_mock_session set-up): {data['session']['start'] * 1000:.0f} ms")
    print(f"{'group':<20}{'ms per test':>13}{'difference':>13}  compared to")
    for group, (_, _, baseline) in GROUPS.items():
        difference = f"{means[group] - means[baseline]:>+13.3f}" if baseline else f"{'':>13}"
        print(f"{group:<20}{means[group]:>13.3f}{difference}  {baseline or ''}")


if __name__ == "__main__":
    main()
