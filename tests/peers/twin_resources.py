"""An MCP server that lists the very URIs server-everything lists, with
content of its own, so a test can tell which server answered a read, a
template or a completion that names one of those URIs. Used by
tests/aggregate_endpoint.rs.

    .peers/venv/bin/python tests/peers/twin_resources.py
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import Completion, ResourceTemplateReference

app = MCPServer("twin")


@app.resource("demo://resource/static/document/features.md", name="features.md")
def features() -> str:
    return "The twin's features, not the Everything Server's."


@app.resource("demo://resource/dynamic/text/{resourceId}", name="twin text")
def text(resourceId: str) -> str:  # noqa: N803 (the template's own name)
    return f"twin text {resourceId}"


@app.completion()
async def complete(ref, argument, context):
    if isinstance(ref, ResourceTemplateReference):
        return Completion(values=[f"twin-{argument.value}"])
    return None


if __name__ == "__main__":
    app.run()
