// The approvals console: every piece of data comes from the admin JSON API,
// fetched with the token the person typed (kept in sessionStorage, this tab
// only). Data reaches the page through textContent only, never as HTML.
"use strict";

const TOKEN_KEY = "mcp-warden-admin-token";
const NAME_KEY = "mcp-warden-approver";
const POLL_MS = 1500;
const API = "/admin/api";

let timer = null;
const cards = new Map(); // request id -> card element

function $(id) { return document.getElementById(id); }

function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.appendChild(child);
  return node;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options) {
  const init = Object.assign({}, options || {});
  init.headers = Object.assign({ "Authorization": "Bearer " + token() }, init.headers || {});
  init.cache = "no-store";
  const response = await fetch(API + path, init);
  if (response.status === 401) {
    logout("The token was refused; log in again.");
    throw new Error("unauthorized");
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || ("HTTP " + response.status));
  }
  return body;
}

function showLogin(message) {
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("status").textContent = "";
}

function showConsole() {
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (timer !== null) { clearTimeout(timer); timer = null; }
  for (const card of cards.values()) card.remove();
  cards.clear();
  $("decisions").tBodies[0].replaceChildren();
  showLogin(message);
}

function clientLabel(client) {
  if (!client || !client.name) return "(unknown)";
  return client.version ? client.name + " " + client.version : client.name;
}

function approverName() {
  const name = (sessionStorage.getItem(NAME_KEY) || "").trim();
  return "console:" + (name || "admin");
}

function buildCard(request) {
  const meta = el("dl", { class: "meta" });
  for (const [label, value] of [
    ["client", clientLabel(request.client)],
    ["rule", request.rule],
    ["requested at", request.requested_at],
    ["expires at", request.expires_at],
    ["answered through", (request.channels || []).join(", ")],
    ["request", request.id],
  ]) {
    meta.appendChild(el("dt", { text: label }));
    meta.appendChild(el("dd", { text: value == null ? "" : String(value) }));
  }
  const args = el("pre", { class: "arguments", text: JSON.stringify(request.arguments, null, 2) });

  const reason = el("input", { type: "text", class: "reason", maxlength: "1000", placeholder: "why (required to deny)" });
  const scope = el("select", { class: "scope" }, [
    el("option", { value: "once", text: "once" }),
    el("option", { value: "session", text: "this session" }),
    el("option", { value: "15m", text: "15 minutes" }),
  ]);
  const anyArgs = el("input", { type: "checkbox", class: "any-args" });
  const approve = el("button", { type: "button", class: "approve", text: "Approve" });
  const deny = el("button", { type: "button", class: "deny", text: "Deny" });
  const message = el("p", { class: "error card-error", role: "alert" });

  const answer = el("div", { class: "answer" }, [
    el("label", {}, [document.createTextNode("Reason"), reason]),
    el("label", {}, [document.createTextNode("Scope"), scope]),
    el("label", { class: "check" }, [anyArgs, document.createTextNode(" any arguments the rule allows")]),
    approve,
    deny,
  ]);

  const card = el("article", { class: "card", "data-id": request.id }, [
    el("h3", {}, [el("span", { class: "server", text: request.server }), document.createTextNode(" / "),
      el("span", { class: "tool", text: request.tool })]),
    meta,
    args,
    answer,
    message,
  ]);

  // The gateway would refuse the answer anyway; say so before anyone tries.
  if (!(request.channels || []).includes("console")) {
    approve.disabled = deny.disabled = true;
    message.textContent = "This rule takes answers only through: " + (request.channels || []).join(", ") + ".";
  }

  async function send(verb) {
    message.textContent = "";
    const body = { reason: reason.value, approver: approverName(), channel: "console" };
    if (verb === "approve") {
      body.scope = scope.value;
      body.any_args = anyArgs.checked;
    } else if (reason.value.trim() === "") {
      message.textContent = "A reason is required to deny.";
      reason.focus();
      return;
    }
    approve.disabled = deny.disabled = true;
    try {
      await api("/approvals/" + encodeURIComponent(request.id) + "/" + verb, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      card.remove();
      cards.delete(request.id);
      $("status").textContent = (verb === "approve" ? "Approved " : "Denied ") + request.server + " / " + request.tool;
      refresh();
    } catch (e) {
      message.textContent = e.message;
      approve.disabled = deny.disabled = false;
    }
  }
  approve.addEventListener("click", () => send("approve"));
  deny.addEventListener("click", () => send("deny"));
  return card;
}

function renderPending(list) {
  const seen = new Set();
  const container = $("pending");
  for (const request of list) {
    seen.add(request.id);
    if (!cards.has(request.id)) {
      const card = buildCard(request);
      cards.set(request.id, card);
      container.appendChild(card);
    }
  }
  // Cards of requests answered elsewhere, timed out or withdrawn go away;
  // the ones still pending are left alone so a half-typed reason survives.
  for (const [id, card] of cards) {
    if (!seen.has(id)) { card.remove(); cards.delete(id); }
  }
  $("pending-count").textContent = "(" + list.length + ")";
  $("no-pending").hidden = list.length > 0;
}

function renderDecisions(list) {
  const rows = list.filter((d) => d.status !== "pending").map((d) => el("tr", { "data-id": d.id }, [
    el("td", { text: d.requested_at || "" }),
    el("td", { text: d.server || "" }),
    el("td", { text: d.tool || "" }),
    el("td", { text: clientLabel(d.client) }),
    el("td", { class: "outcome-" + d.status, text: d.status || "" }),
    el("td", { text: d.approver || "" }),
    el("td", { text: d.scope ? d.scope + (d.any_args ? ", any arguments" : "") : "" }),
    el("td", { text: d.reason || "" }),
  ]));
  $("decisions").tBodies[0].replaceChildren(...rows);
}

// Drifted, unpinned and quarantined definitions, flags and first-use pins,
// newest first. Text only: a definition's words never reach this page.
function renderIntegrity(answer) {
  const list = (answer && answer.notices) || [];
  const rows = list.slice().reverse().map((n) => el("tr", { class: "integrity-" + n.event }, [
    el("td", { text: n.at ? new Date(n.at * 1000).toISOString() : "" }),
    el("td", { text: n.event || "" }),
    el("td", { text: n.server || "" }),
    el("td", { text: n.tool || "" }),
    el("td", { text: n.pinned ? n.pinned + " \u2192 " + n.seen : n.seen || "" }),
    el("td", { text: n.reason || "" }),
  ]));
  $("integrity").tBodies[0].replaceChildren(...rows);
  $("no-integrity").hidden = list.length > 0;
}

async function refresh() {
  if (!token()) return;
  try {
    const [pending, decisions, integrity] =
      await Promise.all([api("/approvals"), api("/decisions?limit=50"), api("/integrity")]);
    renderPending(pending);
    renderDecisions(decisions);
    renderIntegrity(integrity);
    $("status").dataset.updated = new Date().toISOString();
  } catch (e) {
    if (e.message !== "unauthorized") $("status").textContent = "Update failed: " + e.message;
  }
}

async function poll() {
  await refresh();
  if (token()) timer = setTimeout(poll, POLL_MS);
}

function start() {
  showConsole();
  if (timer !== null) clearTimeout(timer);
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    sessionStorage.setItem(NAME_KEY, $("approver").value.trim());
    $("token").value = "";
    try {
      await api("/approvals");
    } catch (e) {
      if (e.message !== "unauthorized") showLogin("Could not reach the gateway: " + e.message);
      return;
    }
    start();
  });
  $("logout").addEventListener("click", () => logout(""));
  if (token()) start(); else showLogin("");
});
