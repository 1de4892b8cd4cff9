"""A naive file tool: `remove` deletes what it is given below ROOT, a file
or a whole directory. Like many real tools it takes one path or a list of
path segments, and joins whatever it gets to its root: an empty list or an
empty string names the root itself.

    python naive_files.py ROOT
"""

import os
import shutil
import sys

from mcp.server.mcpserver import MCPServer

ROOT = sys.argv[1]
server = MCPServer("naive-files")


@server.tool()
def remove(path: str | list[str]) -> str:
    """Remove a file or directory inside the workspace."""
    target = os.path.join(ROOT, *path) if isinstance(path, list) else os.path.join(ROOT, path)
    if os.path.isdir(target):
        shutil.rmtree(target)
    else:
        os.remove(target)
    return f"removed {target}"


if __name__ == "__main__":
    server.run()
