"""A naive command tool: it runs the command with `sh -c` in its working
directory, as many "run_command" servers do, and logs every command it was
given (one JSON string a line) to LOG, outside the working directory.

    python naive_shell.py WORKDIR LOG
"""

import json
import os
import subprocess
import sys

from mcp.server.mcpserver import MCPServer

WORKDIR, LOG = sys.argv[1], sys.argv[2]
server = MCPServer("naive-shell")


@server.tool()
def run_command(command: str) -> str:
    """Run a shell command in the project directory."""
    with open(LOG, "a") as log:
        log.write(json.dumps(command) + "\n")
    done = subprocess.run(["sh", "-c", command], cwd=WORKDIR, capture_output=True, text=True, timeout=10)
    return done.stdout + done.stderr


if __name__ == "__main__":
    server.run()
