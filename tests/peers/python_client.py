"""Drives mcp-warden with the official MCP Python SDK (`pip install mcp`).

Used by tests/third_party_peers.rs; run it by hand the same way:

    .peers/venv/bin/python tests/peers/python_client.py [options] -- http://127.0.0.1:8080/mcp
    .peers/venv/bin/python tests/peers/python_client.py [options] -- mcp-warden stdio --config FILE

A target starting with http:// or https:// is a Streamable HTTP URL; anything
else is a command launched as a stdio server (StdioServerParameters).

It connects, lists the tools, calls the allowed tool with its arguments, calls
the denied tool and checks that the call fails with a JSON-RPC error that
names the expected rule. It prints one JSON object on stdout for the Rust test
to assert on, and exits non-zero when a check here fails (the JSON still
says what was seen).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Any

from mcp import Client, MCPError, StdioServerParameters


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="legacy", help="Client(mode=...): legacy, auto or a modern protocol version")
    p.add_argument("--call", default="demo__echo", help="an allowed tool to call")
    p.add_argument("--call-args", default='{"text": "hello from python"}', help="its arguments as JSON")
    p.add_argument("--deny", default="demo__run_command", help="a tool the policy denies ('' to skip)")
    p.add_argument("--deny-args", default='{"command": "id"}', help="its arguments as JSON")
    p.add_argument("--expect-rule", default="no-shell", help="the rule id the denial must name")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole session")
    p.add_argument("target", nargs="+", help="URL, or command and arguments of a stdio server")
    return p.parse_args()


def server_for(target: list[str]) -> str | StdioServerParameters:
    if target[0].startswith(("http://", "https://")):
        if len(target) != 1:
            raise SystemExit("a URL target takes no further arguments")
        return target[0]
    return StdioServerParameters(command=target[0], args=target[1:])


def content_text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def run(args: argparse.Namespace, out: dict[str, Any]) -> list[str]:
    failures: list[str] = []
    async with Client(server_for(args.target), mode=args.mode, read_timeout_seconds=args.timeout) as client:
        out["protocol_version"] = client.protocol_version
        info = client.server_info
        out["server_info"] = {"name": info.name, "version": info.version} if info else None

        tools = await client.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        if args.call not in out["tools"]:
            failures.append(f"{args.call} is not listed")
        if args.deny and args.deny in out["tools"]:
            failures.append(f"denied tool {args.deny} is listed")

        result = await client.call_tool(args.call, json.loads(args.call_args))
        out["call"] = {"tool": args.call, "text": content_text(result), "is_error": bool(result.is_error)}

        if args.deny:
            try:
                result = await client.call_tool(args.deny, json.loads(args.deny_args))
            except MCPError as e:
                out["denied"] = {"raised": True, "code": e.code, "message": e.message, "data": e.data}
                if args.expect_rule not in e.message and (e.data or {}).get("rule") != args.expect_rule:
                    failures.append(f"the denial does not name rule {args.expect_rule}: {e.message!r} {e.data!r}")
            else:
                out["denied"] = {"raised": False, "text": content_text(result), "is_error": bool(result.is_error)}
                failures.append(f"calling {args.deny} did not raise")
    return failures


def main() -> int:
    args = parse_args()
    out: dict[str, Any] = {"mode": args.mode}
    try:
        failures = asyncio.run(asyncio.wait_for(run(args, out), args.timeout))
    except BaseException as e:  # report everything, including TaskGroup wrappers and timeouts
        out["exception"] = "".join(traceback.format_exception(e))
        failures = [f"exception: {e!r}"]
    out["failures"] = failures
    print(json.dumps(out, default=str))
    sys.stdout.flush()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
