// A TypeScript SDK client whose call's stream drops mid-call and that takes
// the call up again with the SDK's resumption token, as the SDK's own
// example client does: the first client starts a long call and keeps every
// resumption token it is given; once the first progress notification is in,
// its connection is closed; a second client on the same session resumes the
// call from the last token. Prints what each saw as one JSON line.
//
// usage: MCP_SDK=<the SDK package's directory> node resume_call.mjs <url> <tool> <duration seconds> <steps>
// (the SDK is installed under .peers/, which Node's module resolution does
// not look in from here)
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdk = (path) => import(pathToFileURL(join(process.env.MCP_SDK, "dist/esm", path)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { CallToolResultSchema } = await sdk("types.js");

const [url, tool, duration, steps] = process.argv.slice(2);
const params = { name: tool, arguments: { duration: Number(duration), steps: Number(steps) } };

// Every message a client's transport hands the SDK, in order.
function recording(transport, seen) {
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    seen.push(message);
    deliver?.(message, extra);
  };
}

const first = { transport: new StreamableHTTPClientTransport(new URL(url)), seen: [], errors: [] };
const firstClient = new Client({ name: "resume-first", version: "0" });
await firstClient.connect(first.transport);
recording(first.transport, first.seen);
const sessionId = first.transport.sessionId;

let token;
let firstProgress;
const progressed = new Promise((resolve) => (firstProgress = resolve));
const abandoned = firstClient
  .request({ method: "tools/call", params }, CallToolResultSchema, {
    onprogress: () => firstProgress(),
    onresumptiontoken: (t) => (token = t),
    timeout: 60_000,
  })
  .then(
    () => first.errors.push("the first client got the result"),
    () => {},
  );
await progressed;
// The connection drops: the SDK gives up on the request, the gateway must not.
await first.transport.close();
await abandoned;

const second = { transport: new StreamableHTTPClientTransport(new URL(url), { sessionId }), seen: [] };
const secondClient = new Client({ name: "resume-second", version: "0" });
secondClient.onerror = () => {};
await secondClient.connect(second.transport);
recording(second.transport, second.seen);
const resumedFrom = token;
const result = await secondClient.request({ method: "tools/call", params }, CallToolResultSchema, {
  resumptionToken: token,
  onresumptiontoken: (t) => (token = t),
  timeout: 60_000,
});
// Anything still coming would be a second delivery.
await new Promise((resolve) => setTimeout(resolve, 500));

const progressOf = (seen) => seen.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress);
const resultsIn = (seen) => seen.filter((m) => m.result !== undefined && m.result.content !== undefined).length;
console.log(
  JSON.stringify({
    resumedFrom,
    text: result.content?.[0]?.text,
    firstProgress: progressOf(first.seen),
    firstResults: resultsIn(first.seen),
    firstErrors: first.errors,
    resumedProgress: progressOf(second.seen),
    resumedResults: resultsIn(second.seen),
  }),
);
await second.transport.close();
process.exit(0);
