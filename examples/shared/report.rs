//! What the load generators print: one JSON object (`--json`, read by
//! `bench/overhead.sh`) or one line of text, from the latencies of the
//! calls made. Shared by `loadgen` and `stdio_loadgen` with `#[path]`.

use serde_json::{json, Map, Value};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Prints the report (`extra` adds the generator's own fields) and exits
/// with status 1 if any call failed.
pub fn print(mut latencies: Vec<u64>, errors: u64, secs: f64, extra: Value, as_json: bool) {
    latencies.sort_unstable();
    let calls = latencies.len() as u64;
    let mut report = json!({
        "calls": calls,
        "errors": errors,
        "secs": secs,
        "calls_per_sec": calls as f64 / secs,
        "p50_us": percentile(&latencies, 50.0),
        "p90_us": percentile(&latencies, 90.0),
        "p99_us": percentile(&latencies, 99.0),
        "max_us": latencies.last().copied().unwrap_or(0),
    });
    let fields: &mut Map<String, Value> = report.as_object_mut().expect("an object");
    if let Value::Object(extra) = extra {
        fields.extend(extra);
    }
    if as_json {
        println!("{report}");
    } else {
        let rest: Vec<String> = fields
            .iter()
            .filter(|(k, _)| !["calls", "errors", "secs", "calls_per_sec"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "{calls} calls in {secs:.2}s: {:.0} calls/s, {errors} errors; {}",
            calls as f64 / secs,
            rest.join(", ")
        );
    }
    if errors > 0 {
        std::process::exit(1);
    }
}
