"""Exercises the relayed MCP features beyond tools/list and tools/call with the
official MCP Python SDK, through mcp-warden. Used by tests/third_party_peers.rs.

    .peers/venv/bin/python tests/peers/python_features.py demo  [--mode legacy] -- URL|COMMAND...
    .peers/venv/bin/python tests/peers/python_features.py roots --root DIR [--mode legacy] -- URL|COMMAND...
    .peers/venv/bin/python tests/peers/python_features.py approval [--mode legacy] -- URL|COMMAND...

Scenario `demo` (the demo upstream named "demo", everything allowed):
ping, progress notifications (demo__slow_count), an elicitation the upstream
sends mid-call and this client answers (demo__confirm_action), and
notifications/tools/list_changed (demo__enable_extra_tool, then
demo__extra_tool appears).

Scenario `roots` (@modelcontextprotocol/server-filesystem named "files"):
the client declares roots; server-filesystem asks for them (roots/list,
relayed by the gateway to this client) and then allows exactly those
directories, which files__list_allowed_directories reports.

Scenario `approval` (the demo upstream behind a policy that holds
demo__send_message for approval through elicitation): the gateway itself asks
this client with an approval form; the callback approves what it is shown only
when the body is "ship it", so one call goes through and one is denied.

Prints one JSON object on stdout; every step records what it saw or the
exception it raised, so the Rust test can say precisely what broke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from mcp import Client, MCPDeprecationWarning, StdioServerParameters
from mcp.types import ElicitResult, ListRootsResult, Root


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=["demo", "roots", "approval"])
    p.add_argument("--mode", default="legacy")
    p.add_argument("--root", help="the directory the client offers as its root (scenario roots)")
    p.add_argument("--expect", help="the directory the server should end up allowing (default: --root)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("target", nargs="+", help="URL, or command and arguments of a stdio server")
    return p.parse_args()


def server_for(target: list[str]) -> str | StdioServerParameters:
    if target[0].startswith(("http://", "https://")):
        return target[0]
    return StdioServerParameters(command=target[0], args=target[1:])


def content_text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def step(out: dict[str, Any], name: str, coro: Any, timeout: float) -> Any:
    """Runs one step; records its value or its exception under `name`."""
    try:
        value = await asyncio.wait_for(coro, timeout)
    except BaseException as e:  # noqa: BLE001 - every failure is reported, not raised
        out[name] = {"error": repr(e)}
        return None
    out[name] = value
    return value


async def demo(args: argparse.Namespace, out: dict[str, Any]) -> None:
    elicited: list[str] = []
    list_changed = asyncio.Event()

    async def on_elicit(_context: Any, params: Any) -> ElicitResult:
        elicited.append(getattr(params, "message", ""))
        return ElicitResult(action="accept", content={"confirm": True})

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            list_changed.set()

    async with Client(
        server_for(args.target),
        mode=args.mode,
        read_timeout_seconds=args.timeout,
        elicitation_callback=on_elicit,
        message_handler=on_message,
    ) as client:
        out["protocol_version"] = client.protocol_version
        t = args.timeout

        async def ping() -> str:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)  # ping is legacy-only, as intended here
                await client.send_ping()
            return "pong"

        await step(out, "ping", ping(), t)

        progress: list[dict[str, Any]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append({"progress": value, "total": total, "message": message})

        async def count() -> dict[str, Any]:
            result = await client.call_tool(
                "demo__slow_count", {"steps": 3, "delay_ms": 20}, progress_callback=on_progress
            )
            return {"text": content_text(result), "is_error": bool(result.is_error), "progress": progress}

        await step(out, "progress", count(), t)

        async def confirm() -> dict[str, Any]:
            result = await client.call_tool("demo__confirm_action", {"action": "deploy v2"})
            return {"text": content_text(result), "is_error": bool(result.is_error), "elicited": elicited}

        await step(out, "elicitation", confirm(), t)

        async def extra_tool() -> dict[str, Any]:
            before = sorted(tool.name for tool in (await client.list_tools()).tools)
            enabled = content_text(await client.call_tool("demo__enable_extra_tool", {}))
            await asyncio.wait_for(list_changed.wait(), t)
            after = sorted(tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools)
            called = content_text(await client.call_tool("demo__extra_tool", {}))
            return {"before": before, "enabled": enabled, "after": after, "called": called}

        await step(out, "list_changed", extra_tool(), t)


async def roots(args: argparse.Namespace, out: dict[str, Any]) -> None:
    if not args.root:
        raise SystemExit("scenario roots needs --root DIR")
    root_uri = Path(args.root).resolve().as_uri()
    asked: list[str] = []

    async def on_list_roots(_context: Any) -> ListRootsResult:
        asked.append("roots/list")
        return ListRootsResult(roots=[Root(uri=root_uri, name="test root")])

    async with Client(
        server_for(args.target), mode=args.mode, read_timeout_seconds=args.timeout, list_roots_callback=on_list_roots
    ) as client:
        out["protocol_version"] = client.protocol_version

        async def allowed() -> dict[str, Any]:
            # server-filesystem asks for roots right after the handshake, in
            # the background: poll until the answer has been applied.
            text = ""
            expected = str(Path(args.expect or args.root).resolve())
            for _ in range(100):
                text = content_text(await client.call_tool("files__list_allowed_directories", {}))
                if (asked or args.expect) and expected in text:
                    break
                await asyncio.sleep(0.1)
            return {"asked": len(asked), "text": text}

        await step(out, "roots", allowed(), args.timeout)


async def approval(args: argparse.Namespace, out: dict[str, Any]) -> None:
    forms: list[dict[str, Any]] = []

    async def on_elicit(_context: Any, params: Any) -> ElicitResult:
        message = getattr(params, "message", "")
        schema = getattr(params, "requested_schema", None) or {}
        forms.append({"message": message, "fields": sorted(schema.get("properties", {}))})
        decision = "approve" if '"ship it"' in message else "deny"
        return ElicitResult(action="accept", content={"decision": decision, "reason": f"python said {decision}"})

    async with Client(
        server_for(args.target), mode=args.mode, read_timeout_seconds=args.timeout, elicitation_callback=on_elicit
    ) as client:
        out["protocol_version"] = client.protocol_version

        async def send(body: str) -> dict[str, Any]:
            try:
                result = await client.call_tool("demo__send_message", {"to": "bob@example.com", "body": body})
            except Exception as e:  # noqa: BLE001 - a denial arrives as a JSON-RPC error
                return {"error": str(e)}
            return {"text": content_text(result), "is_error": bool(result.is_error)}

        await step(out, "approved", send("ship it"), args.timeout)
        await step(out, "denied", send("wire the money"), args.timeout)
        sent = await client.call_tool("demo__list_sent_messages", {})
        out["sent"] = content_text(sent)
        out["forms"] = forms


def main() -> int:
    args = parse_args()
    out: dict[str, Any] = {"scenario": args.scenario, "mode": args.mode}
    scenario = {"demo": demo, "roots": roots, "approval": approval}[args.scenario]
    try:
        asyncio.run(asyncio.wait_for(scenario(args, out), args.timeout * 4))
    except BaseException as e:  # noqa: BLE001
        out["exception"] = "".join(traceback.format_exception(e))
    print(json.dumps(out, default=str))
    sys.stdout.flush()
    return 1 if "exception" in out else 0


if __name__ == "__main__":
    sys.exit(main())
