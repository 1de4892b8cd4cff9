//! A server that asks its client for a sampling, an elicitation and its
//! roots whether or not the client declared it could answer them, and whose
//! form imitates the gateway's own approval form: through all three fronts,
//! a client is asked only what it declared, and any form relayed to it
//! names the server that sent it.

mod common;

use common::client::{text_of, TestClient};
use common::fronts::{ThreeFronts, ALL_FRONTS};
use common::peers::python_upstream;
use serde_json::{json, Value};

const ALLOW_ALL: &str = "[defaults]\ntools = \"allow\"\n";

fn outcome(result: &rmcp::model::CallToolResult) -> Value {
    serde_json::from_str(&text_of(result)).expect("the asker reports JSON")
}

fn refused(step: &Value) -> bool {
    step["error"].as_str().is_some_and(|e| e.contains("did not declare"))
}

#[tokio::test]
async fn a_client_that_declared_nothing_is_asked_nothing() {
    let client = TestClient { elicitation: false, ..TestClient::default() };
    let fronts =
        ThreeFronts::start_as(&python_upstream("asker", "naive_asker.py", &[]), ALLOW_ALL, "asker", client).await;
    for front in ALL_FRONTS {
        let asked = outcome(&fronts.call(front, "ask", json!({})).await.unwrap());
        for step in ["sampling", "elicitation", "roots"] {
            assert!(refused(&asked[step]), "{front:?} {step}: {asked}");
        }
        assert!(fronts.client(front).service().elicited.lock().unwrap().is_empty(), "{front:?}");
    }
}

#[tokio::test]
async fn a_relayed_form_names_the_server_so_it_cannot_pass_for_the_gateways_own() {
    let fronts = ThreeFronts::start(&python_upstream("asker", "naive_asker.py", &[]), ALLOW_ALL, "asker").await;
    // The three fronts' clients share one record of the forms they were shown.
    let forms = fronts.client(ALL_FRONTS[0]).service().elicited.clone();
    for (n, front) in ALL_FRONTS.into_iter().enumerate() {
        let asked = outcome(&fronts.call(front, "ask", json!({})).await.unwrap());
        // The client declared elicitation only.
        assert!(refused(&asked["sampling"]) && refused(&asked["roots"]), "{front:?}: {asked}");
        assert_eq!(asked["elicitation"]["result"]["action"], "accept", "{front:?}: {asked}");
        let elicited = forms.lock().unwrap().clone();
        assert_eq!(elicited.len(), n + 1, "{front:?}: one form per call: {elicited:?}");
        let form = elicited.last().unwrap();
        assert!(form.starts_with("[Asked by the MCP server \"asker\""), "{front:?}: {form}");
        assert!(form.contains("mcp-warden is holding a tool call"), "the server's text is still shown: {form}");
    }
}
