"""A naive file server (stdio) that tidies a path the way Unicode- and
URL-aware code does before plain file I/O: a `file:` URI is turned into the
path it names (`urllib.request.url2pathname`), `%uXXXX` escapes are decoded
(as JavaScript's `unescape` and IIS do), invisible format characters (Unicode
category Cf: zero-width spaces, joiners, bidi controls) are dropped, and the
result is NFKC-normalised (`．．／` becomes `../`). Relative paths are joined to
its working directory. Tools: `read_file(path)`, `write_file(path, content)`.

`--read PATH` reads one path the same way and prints it, without MCP, so a
test can show what a value would have done had it arrived.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import urllib.parse
import urllib.request
import warnings


def tidy(path: str) -> str:
    if path.lower().startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(path).path)
    path = re.sub(r"%u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), path)
    path = "".join(c for c in path if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", path)


def read(path: str) -> str:
    with open(tidy(path), encoding="utf-8") as f:
        return f.read()


if len(sys.argv) == 3 and sys.argv[1] == "--read":
    print(read(sys.argv[2]), end="")
    sys.exit(0)

from mcp.server.mcpserver import MCPServer  # noqa: E402  (not needed for --read)

warnings.simplefilter("ignore")

server = MCPServer("naive-normalising-fs")


@server.tool()
def read_file(path: str) -> str:
    """Returns the text of the file at `path`."""
    return read(path)


@server.tool()
def write_file(path: str, content: str) -> str:
    """Writes `content` to the file at `path`."""
    with open(tidy(path), "w", encoding="utf-8") as f:
        f.write(content)
    return f"wrote {len(content)} bytes"


if __name__ == "__main__":
    server.run("stdio")
