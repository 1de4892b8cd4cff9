"""A naive file server (stdio): reads and writes whatever path it is given
with plain file I/O, following symlinks and joining relative paths to its
own working directory, as careless servers do. Used by tests that show a
hostile path never reaches it. Tools: `read_file(path)`, `write_file(path, content)`.
"""

from __future__ import annotations

import warnings

from mcp.server.mcpserver import MCPServer

warnings.simplefilter("ignore")

server = MCPServer("naive-fs")


@server.tool()
def read_file(path: str) -> str:
    """Returns the text of the file at `path`."""
    with open(path, encoding="utf-8") as f:
        return f.read()


@server.tool()
def write_file(path: str, content: str) -> str:
    """Writes `content` to the file at `path`."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)
    return f"wrote {len(content)} bytes"


if __name__ == "__main__":
    server.run("stdio")
