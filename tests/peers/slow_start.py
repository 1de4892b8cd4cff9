"""An MCP server that takes a while to start, as servers that load a model or
an index do, offering what a gateway's `initialize` answer must not forget:
prompts, resources and instructions. Used by tests/launch.rs and
tests/dead_upstreams.rs.

    .peers/venv/bin/python tests/peers/slow_start.py [SECONDS]
"""

from __future__ import annotations

import sys
import time

# Before the SDK is even imported: nothing answers until this has passed.
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)

from mcp.server.mcpserver import MCPServer  # noqa: E402

app = MCPServer("almanac", instructions="Almanac: ask forecast for tomorrow's weather.")


@app.tool()
def forecast() -> str:
    """Tomorrow's weather."""
    return "rain"


@app.resource("almanac://tides", name="tides")
def tides() -> str:
    return "high tide at noon"


@app.prompt()
def plan_picnic(place: str) -> str:
    """Plan a picnic."""
    return f"Plan a picnic in {place}, bring an umbrella."


if __name__ == "__main__":
    app.run()
