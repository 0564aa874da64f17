"""Credentials never reach a log: query-parameter tokens and keys, Authorization values."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from mockserver import redaction

SECRETS = ("tok-SECRET-1", "oauth-SECRET-2", "key-SECRET-3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"GET /v1/datasets?access_token=abc&projectId=p HTTP/1.1" 401',
         '"GET /v1/datasets?access_token=REDACTED&projectId=p HTTP/1.1" 401'),
        ("/v1/x?projectId=p&oauth_token=abc", "/v1/x?projectId=p&oauth_token=REDACTED"),
        ("/v1/x?KEY=abc;b=1", "/v1/x?KEY=REDACTED;b=1"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer REDACTED"),
        ("authorization: basic dXNlcjpwYXNz", "authorization: basic REDACTED"),
        ("/v1/x?monkey=banana&apikey=x", "/v1/x?monkey=banana&apikey=x"),  # not credentials
    ],
)
def test_redact(text, expected):
    assert redaction.redact(text) == expected


def test_the_filter_rewrites_records_of_the_servers_loggers(caplog):
    redaction.install()
    logger = logging.getLogger("genomics_mock")
    with caplog.at_level(logging.INFO, logger="genomics_mock"):
        logger.info("request %s", "/v1/datasets?access_token=abc")
        logger.info("header Authorization: Bearer abc")
    assert "abc" not in caplog.text and caplog.text.count("REDACTED") == 2


def test_the_access_log_of_serve_holds_no_credentials(tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  {SECRETS[0]}: {{principal: 'user:a@example.com'}}\n"
                      f"apiKeys:\n  {SECRETS[2]}: {{}}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--access-log", "--auth", "strict",
         "--tokens", str(tokens)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        url = None
        for _ in range(600):
            started = [line for line in lines if "serving" in line]
            match = re.search(r"(http://\S+?)/? \(", started[0]) if started else None
            if match:
                url = match.group(1)
                break
            reader.join(0.1)
        assert url, lines
        with httpx.Client(base_url=url, timeout=10) as client:
            client.get("/v1/datasets", params={"projectId": "p", "access_token": SECRETS[0]})
            client.get("/v1/datasets", params={"projectId": "p", "oauth_token": SECRETS[1]})
            client.get("/v1/datasets", params={"projectId": "p", "key": SECRETS[2]})
            bearer = {"Authorization": f"Bearer {SECRETS[0]}"}
            client.get("/v1/datasets", params={"projectId": "p"}, headers=bearer)
            client.get("/_mock/state", params={"access_token": SECRETS[0]})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(10)
    output = "".join(lines)
    assert output.count("/v1/datasets?") >= 3, output  # the access log is on
    assert "access_token=REDACTED" in output and "key=REDACTED" in output
    for secret in SECRETS:
        assert secret not in output
