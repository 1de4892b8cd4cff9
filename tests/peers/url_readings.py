"""How Python's URL parsers read each URL: a JSON list of URLs on stdin, a
JSON list of {"urllib": [host, port] | null, "httpx": [host, port] | null} on
stdout. Ports are the effective ones (the scheme's default when none is
given); hosts are as the library hands them to the connection layer.
Used by tests/url_differentials.rs; nothing here touches the network."""

import json
import sys
import urllib.parse

import httpx2

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def with_default(scheme, host, port):
    if host is None or host == "":
        return None
    return [host, port if port is not None else DEFAULT_PORTS.get(scheme)]


def by_urllib(url):
    try:
        parts = urllib.parse.urlsplit(url)
        return with_default(parts.scheme, parts.hostname, parts.port)
    except ValueError:
        return None


def by_httpx(url):
    try:
        parsed = httpx2.URL(url)
        return with_default(parsed.scheme, parsed.host, parsed.port)
    except Exception:  # httpx raises its own InvalidURL and a few others
        return None


def main():
    urls = json.load(sys.stdin)
    json.dump([{"urllib": by_urllib(u), "httpx": by_httpx(u)} for u in urls], sys.stdout)


if __name__ == "__main__":
    main()
