//! The channels that reach out to people when a call is held, each behind
//! [`Announcer`]. The broker announces every held call to the announcers
//! whose channel the request offers, and tells each of them how the requests
//! it announced ended, whichever channel answered.
//!
//! - `webhook`: a signed POST per held call, with approve and deny links
//!   that come back to the admin listener (`admin::webhook`), and a second
//!   POST when the request ends.
//!
//! The other channels need no announcer: the admin API, the CLI and the web
//! console (all through the admin API) list what is pending themselves,
//! and the elicitation form goes to the calling client on the held call's
//! own stream (`call::hold`). Every channel, announcer or not, answers
//! through [`ApprovalBroker::answer`].

pub mod webhook;

use super::{ApprovalBroker, ApprovalRequest, Ended};
use crate::policy::ApprovalChannel;

pub trait Announcer: Send + Sync {
    /// The channel this announcer speaks for: it hears only of requests
    /// that offer it.
    fn channel(&self) -> ApprovalChannel;

    /// A call was just held and this channel may answer it: tell the people
    /// behind it. Called on the held call's task, in the async runtime;
    /// never blocks (deliver on a task of your own). An announcer that
    /// learns nobody can answer may deny the call through `broker`.
    fn announce(&self, request: &ApprovalRequest, broker: &ApprovalBroker);

    /// A request this channel was told about ended (approved, denied,
    /// timeout, cancelled), whichever channel answered. Called on the
    /// broker's store thread, outside the async runtime: never block and
    /// never spawn; hand the news to a task through a bounded queue.
    fn ended(&self, ended: &Ended);
}
