//! mcp-warden: an MCP security gateway. Clients connect to a front (HTTP or
//! stdio); a relay per client session polices `tools/list` and `tools/call`
//! with the pure policy engine, records every decision in the audit chain,
//! and passes everything else through to the upstream servers unchanged.

#![deny(unsafe_code)]

pub mod admin;
pub mod approval;
pub mod audit;
pub mod call;
pub mod config;
pub mod errors;
pub mod explain;
pub mod front;
pub mod gateway;
pub mod inspect;
pub mod integrity;
pub mod jsonrpc;
pub mod lines;
pub mod naming;
pub mod policy;
pub mod protocol;
pub mod relay;
pub mod source;
pub mod upstream;
