// How the WHATWG URL parser (Node's URL, as browsers and undici read URLs)
// reads each URL: a JSON list of URLs on stdin, a JSON list of
// [host, port] | null on stdout (effective port). Used by
// tests/url_differentials.rs; nothing here touches the network.
import { readFileSync } from "node:fs";

const DEFAULT_PORTS = { "http:": 80, "https:": 443, "ws:": 80, "wss:": 443, "ftp:": 21 };
const urls = JSON.parse(readFileSync(0, "utf8"));
const readings = urls.map((text) => {
  try {
    const url = new URL(text);
    if (!url.hostname) return null;
    const port = url.port === "" ? DEFAULT_PORTS[url.protocol] ?? null : Number(url.port);
    return [url.hostname, port];
  } catch {
    return null;
  }
});
process.stdout.write(JSON.stringify(readings));
