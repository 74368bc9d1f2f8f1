//! A record of the statements one store runs, for tests that check how much work a request
//! does (the AWX cost guard, `tests/api/awx_cost.rs`): off unless started, and then every
//! statement's text and arguments are kept until taken. `cost` replays a read statement and
//! says how much it read, the same way on every run: SQLite's count of virtual-machine steps,
//! PostgreSQL's count of rows its scans visited (`EXPLAIN ANALYZE`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{writer, Pools, Sql, Store, StoreError};

/// The statements run while tracing is on.
#[derive(Default)]
pub struct StatementTrace {
    on: AtomicBool,
    statements: Mutex<Vec<Sql>>,
}

impl StatementTrace {
    /// Keeps `sql` if tracing is on (one relaxed load otherwise).
    pub(super) fn record(&self, sql: &Sql) {
        if self.on.load(Ordering::Relaxed) {
            if let Ok(mut statements) = self.statements.lock() {
                statements.push(sql.clone());
            }
        }
    }
}

impl Store {
    /// Starts keeping every statement this store runs (forgetting any kept before).
    pub fn start_trace(&self) {
        if let Ok(mut statements) = self.trace.statements.lock() {
            statements.clear();
        }
        self.trace.on.store(true, Ordering::Relaxed);
    }

    /// Stops tracing and returns the statements run since `start_trace`.
    pub fn take_trace(&self) -> Vec<Sql> {
        self.trace.on.store(false, Ordering::Relaxed);
        self.trace
            .statements
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    /// How much a read statement reads, replayed now: SQLite's virtual-machine steps, or the
    /// rows PostgreSQL's scans visited (returned or filtered out). Statements that write are
    /// not replayed and cost 0.
    pub async fn cost(&self, sql: &Sql) -> Result<u64, StoreError> {
        let text = sql.text().trim_start().to_ascii_uppercase();
        if !(text.starts_with("SELECT") || text.starts_with("WITH")) {
            return Ok(0);
        }
        match &self.pools {
            Pools::Sqlite { .. } => match &self.lookups {
                Some(lookups) => lookups.with_connection(|conn| writer::vm_steps(conn, sql)),
                None => Err(StoreError::Other("SQLite store without lookups".into())),
            },
            Pools::Postgres(pool) => {
                let mut explain = Sql::new("EXPLAIN (ANALYZE, FORMAT JSON) ");
                explain.push(sql.text());
                explain.args = sql.args.clone();
                let args = explain.pg_args()?;
                let plan: serde_json::Value = sqlx::query_scalar_with(explain.text(), args)
                    .fetch_one(pool)
                    .await?;
                Ok(rows_visited(&plan))
            }
        }
    }
}

/// The rows every scan node of a PostgreSQL JSON plan visited: returned (per loop) plus those
/// its filters removed.
fn rows_visited(plan: &serde_json::Value) -> u64 {
    match plan {
        serde_json::Value::Array(items) => items.iter().map(rows_visited).sum(),
        serde_json::Value::Object(node) => {
            let own = match node.get("Node Type").and_then(|t| t.as_str()) {
                Some(kind) if kind.ends_with("Scan") && !VIRTUAL_SCANS.contains(&kind) => {
                    let number = |key: &str| node.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0);
                    let loops = number("Actual Loops").max(1.0);
                    (number("Actual Rows") + number("Rows Removed by Filter")) * loops
                        + number("Rows Removed by Index Recheck")
                }
                _ => 0.0,
            };
            own as u64
                + node
                    .iter()
                    .filter(|(k, _)| *k == "Plan" || *k == "Plans")
                    .map(|(_, v)| rows_visited(v))
                    .sum::<u64>()
        }
        _ => 0,
    }
}

/// Scans of something other than a table or index (a CTE's rows, a function's, a subquery's).
const VIRTUAL_SCANS: [&str; 6] = [
    "CTE Scan",
    "WorkTable Scan",
    "Subquery Scan",
    "Function Scan",
    "Values Scan",
    "Result Scan",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_visited_counts_scans_and_what_their_filters_removed() {
        let plan = serde_json::json!([{ "Plan": {
            "Node Type": "Aggregate", "Actual Rows": 1, "Actual Loops": 1,
            "Plans": [
                { "Node Type": "Seq Scan", "Actual Rows": 10, "Actual Loops": 1,
                  "Rows Removed by Filter": 990 },
                { "Node Type": "Index Scan", "Actual Rows": 1, "Actual Loops": 5 },
                { "Node Type": "CTE Scan", "Actual Rows": 7, "Actual Loops": 1 }
            ]
        }}]);
        assert_eq!(rows_visited(&plan), 1000 + 5);
    }
}
