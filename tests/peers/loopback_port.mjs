// Preloaded (`node --import`) into a Node MCP server that listens on
// process.env.PORT (server-everything's Streamable HTTP mode): every listen
// on a port is bound to 127.0.0.1 only, and the port it got is reported on
// stderr as "listening on 127.0.0.1:<port>", so a test can ask for port 0
// rather than pick a port before binding it.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const port = args[0];
  if (typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port))) {
    // listen(port[, host][, backlog][, callback]): the host is ours to set.
    const hasHost = typeof args[1] === "string";
    args.splice(1, hasHost ? 1 : 0, "127.0.0.1");
  }
  this.once("listening", () => {
    const address = this.address();
    process.stderr.write(`listening on ${address.address}:${address.port}\n`);
  });
  return listen.apply(this, args);
};
