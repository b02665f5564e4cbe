#!/usr/bin/python3
"""The bodies of HTTP GETs, one new connection each, made by one process.

    http-answers.py URL N           N requests; one line each: the body, or
                                    "no-answer"
    http-answers.py URL --from A..  one request from each source address A;
                                    one line each: "A body", or "A none"

A test that starts curl once per request pays a process start per request,
which costs about a tenth of a second under TCG; this pays one."""

import http.client
import sys
import urllib.parse


def get(url, source=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname,
        parts.port or 80,
        timeout=5,
        source_address=(source, 0) if source else None,
    )
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().read().decode().strip()
    except OSError:
        return None
    finally:
        conn.close()


def main():
    url = sys.argv[1]
    if sys.argv[2] == "--from":
        for source in sys.argv[3:]:
            body = get(url, source)
            print(source, body if body is not None else "none", flush=True)
    else:
        for _ in range(int(sys.argv[2])):
            body = get(url)
            print(body if body is not None else "no-answer", flush=True)


main()
