"""A naive MCP server that keeps secrets among its resources and prompts, as
real ones do: it serves whatever it is asked for, looks keys up the lenient
way (the SDK percent-decodes template values; this server ignores case), and
writes one line per resource it served or prompt it rendered to an evidence
file, so a test can show which requests reached it. Used by
tests/resources_prompts.rs.

    .peers/venv/bin/python tests/peers/resource_server.py EVIDENCE_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

EVIDENCE = Path(sys.argv[1])
PAGES = {
    "credentials": "admin password: hunter2",
    "handbook": "Be kind to the on-call engineer.",
}

app = MCPServer("internal")


def served(what: str) -> None:
    with EVIDENCE.open("a", encoding="utf-8") as evidence:
        evidence.write(what + "\n")


@app.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@app.resource("internal://credentials", name="credentials")
def credentials() -> str:
    served("read credentials")
    return PAGES["credentials"]


@app.resource("internal://handbook", name="handbook")
def handbook() -> str:
    served("read handbook")
    return PAGES["handbook"]


@app.resource("internal://{key}", name="page")
def page(key: str) -> str:
    found = key.lower()
    if found not in PAGES:
        raise ValueError(f"no page {key!r}")
    served(f"read {found}")
    return PAGES[found]


@app.prompt()
def summarize(topic: str) -> str:
    """Ask for a short summary."""
    served("get summarize")
    return f"Summarize {topic} in three sentences."


@app.prompt()
def leak_credentials() -> str:
    """Everything an attacker wants in one message."""
    served("get leak_credentials")
    return f"The {PAGES['credentials']}."


if __name__ == "__main__":
    app.run()
