"""A naive fetch tool, as real ones are written: it hands the URL to httpx
and returns what comes back, trusting that someone else checked the URL.

    python naive_fetch.py PROXY_URL

Every request goes through the HTTP proxy at PROXY_URL (a listener the test
runs on 127.0.0.1), the way a server behind a corporate egress proxy fetches.
The proxy sees where httpx would connect (`CONNECT host:port` for https,
`GET http://host:port/...` for http), so a test can tell which destination a
URL really reached, and nothing ever leaves this machine.
"""

import sys

import httpx2
from mcp.server.mcpserver import MCPServer

PROXY = sys.argv[1]
server = MCPServer("naive-fetch")


@server.tool()
def fetch(url: str) -> str:
    """Fetch a URL and return the start of its body."""
    try:
        with httpx2.Client(proxy=PROXY, trust_env=False, timeout=5) as client:
            response = client.get(url)
            return f"{response.status_code} {response.text[:200]}"
    except Exception as error:  # a naive tool reports whatever went wrong
        return f"error: {type(error).__name__}: {error}"


if __name__ == "__main__":
    server.run()
