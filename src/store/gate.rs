//! Group commit for SQLite's single writer. Every write transaction runs as a savepoint inside
//! one open transaction on the write connection; a committer then makes the whole group durable
//! with one `COMMIT` (one fsync with `synchronous=FULL`) and only then answers each member. No
//! write is acknowledged before the fsync that carries it, so durability is what it was with one
//! `COMMIT` per request; throughput under concurrent writes is no longer one fsync per write.
//!
//! Round trips: each statement is a hand-off to sqlx-sqlite's worker thread, and the gate is
//! held across them, so a member sends as few as it can. Its savepoint and any deferred
//! statements (audit events, which nothing reads back) travel with its next statement, and the
//! last deferred ones with its `RELEASE`. A group keeps the write connection while writers are
//! queued.
//!
//! Ordering: the gate is a fair (FIFO) mutex. A member that releases its savepoint schedules a
//! committer, which queues for the gate behind every writer already waiting, so a group is the
//! writers that queued before its committer. A member reading another member's uncommitted
//! rows is therefore always in the same group, and fails with it if its `COMMIT` fails.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::Executor;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::{Changes, Sql, StoreError, Touched};

/// The one write connection and the group of transactions waiting for its next `COMMIT`.
pub struct WriteGate {
    pool: SqlitePool,
    changes: Arc<Changes>,
    state: Arc<Mutex<GateState>>,
    /// Writers waiting for the gate: while there are any, a committed group keeps the write
    /// connection for the next one.
    queued: Arc<AtomicUsize>,
}

/// Counts a writer as queued until it holds the gate (or gives up waiting).
struct Queued(Arc<AtomicUsize>);

impl Queued {
    fn new(counter: &Arc<AtomicUsize>) -> Queued {
        counter.fetch_add(1, Ordering::SeqCst);
        Queued(counter.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct GateState {
    /// The write connection, held from a group's `BEGIN` to its `COMMIT`.
    conn: Option<PoolConnection<Sqlite>>,
    /// `BEGIN IMMEDIATE` was issued and the group not yet committed.
    open: bool,
    /// A member left without releasing or rolling back its savepoint (an error, or a request
    /// that went away): the next holder rolls it back first.
    dirty: bool,
    /// Members whose work is released into the open transaction, waiting for its `COMMIT`.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// What the members of the open group touched.
    touched: Touched,
    /// A committer is queued for the gate.
    flush_scheduled: bool,
    /// A `BEGIN` or `ROLLBACK` was cut off (its request went away) and may or may not have
    /// happened: the connection's state is unknown, so it is closed rather than reused.
    in_doubt: bool,
}

/// The savepoint every member runs in.
const SAVEPOINT: &str = "SAVEPOINT gatehouse_tx";

impl WriteGate {
    /// A gate over the single-connection write pool.
    pub fn new(pool: SqlitePool, changes: Arc<Changes>) -> WriteGate {
        WriteGate {
            pool,
            changes,
            state: Arc::new(Mutex::new(GateState {
                conn: None,
                open: false,
                dirty: false,
                waiting: Vec::new(),
                touched: Touched::NONE,
                flush_scheduled: false,
                in_doubt: false,
            })),
            queued: Arc::default(),
        }
    }

    /// Starts a member transaction: waits for the gate and opens the group if needed. The
    /// member's savepoint is sent with its first statement.
    pub async fn begin(self: &Arc<Self>) -> Result<GateTx, StoreError> {
        let queued = Queued::new(&self.queued);
        let mut guard = self.state.clone().lock_owned().await;
        drop(queued);
        self.recover(&mut guard).await;
        if !guard.open {
            if guard.conn.is_none() {
                guard.conn = Some(self.pool.acquire().await?);
            }
            // IMMEDIATE: take the write lock now, waiting up to the busy timeout for another
            // process holding it.
            guard.in_doubt = true;
            let begun = run(&mut guard, "BEGIN IMMEDIATE").await;
            guard.in_doubt = false;
            if let Err(e) = begun {
                self.discard_connection(&mut guard).await;
                return Err(e);
            }
            guard.open = true;
        }
        // From here the member may have set its savepoint: if it leaves without releasing it,
        // the next holder rolls it back (a savepoint never set makes that a no-op).
        guard.dirty = true;
        Ok(GateTx {
            guard: Some(guard),
            gate: self.clone(),
            deferred: Some(Sql::new(SAVEPOINT)),
        })
    }

    /// Puts the gate back in a known state: closes a connection whose state is in doubt, and
    /// rolls back a savepoint a member left behind (if even that fails, ends the whole group).
    async fn recover(&self, guard: &mut GateState) {
        if guard.in_doubt {
            // Only a `BEGIN` (no group open yet) or an abort's `ROLLBACK` (members already
            // answered) is ever in doubt, so nobody waits on this connection.
            guard.in_doubt = false;
            guard.dirty = false;
            self.discard_connection(guard).await;
            return;
        }
        if !guard.dirty {
            return;
        }
        let rolled_back = match run(guard, "ROLLBACK TO gatehouse_tx").await {
            Ok(()) => run(guard, "RELEASE gatehouse_tx").await,
            // No savepoint: the member left before its first statement set it (nothing to undo),
            // or was cut off during its own RELEASE, which happened (its work is part of the
            // group: landed, never acknowledged).
            Err(StoreError::Other(m)) if m.contains("no such savepoint") => Ok(()),
            Err(e) => Err(e),
        };
        guard.dirty = false;
        if let Err(e) = rolled_back {
            self.abort_group(guard, e).await;
        }
    }

    /// Rolls the open group back and tells every waiting member it failed.
    async fn abort_group(&self, guard: &mut GateState, error: StoreError) {
        let was_open = guard.open;
        guard.open = false;
        guard.dirty = false;
        guard.touched = Touched::NONE;
        for waiter in guard.waiting.drain(..) {
            let _ = waiter.send(Err(error.clone()));
        }
        if was_open {
            guard.in_doubt = true;
            let _ = run(guard, "ROLLBACK").await;
            guard.in_doubt = false;
        }
        self.discard_connection(guard).await;
    }

    /// Closes the write connection (its state is unknown after a failure); the pool opens a
    /// fresh one for the next group.
    async fn discard_connection(&self, guard: &mut GateState) {
        if let Some(conn) = guard.conn.take() {
            let _ = conn.close().await;
        }
        guard.open = false;
    }

    /// Queues a committer for the group, once.
    fn schedule_flush(self: &Arc<Self>, guard: &mut GateState) {
        if !guard.flush_scheduled {
            guard.flush_scheduled = true;
            let gate = self.clone();
            tokio::spawn(async move { gate.flush().await });
        }
    }

    /// Commits the group: waits for the gate behind every writer already queued, then makes
    /// everything released so far durable with one `COMMIT` and answers each member.
    async fn flush(self: Arc<Self>) {
        let mut guard = self.state.clone().lock_owned().await;
        guard.flush_scheduled = false;
        self.recover(&mut guard).await;
        if !guard.open {
            return;
        }
        match run(&mut guard, "COMMIT").await {
            Ok(()) => {
                guard.open = false;
                // Caches learn of the writes before any member is answered.
                self.changes.bump(guard.touched);
                guard.touched = Touched::NONE;
                for waiter in guard.waiting.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
                // Hand the connection back when no writer is waiting (the readiness probe and
                // maintenance use it); the next group takes it again.
                if self.queued.load(Ordering::SeqCst) == 0 {
                    guard.conn = None;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "group commit failed; its writes were not acknowledged");
                // The outcome is unknown to caches too.
                self.changes.bump(Touched::ALL);
                self.abort_group(&mut guard, e).await;
            }
        }
    }
}

/// One member transaction: holds the gate (and so the write connection) until it commits or
/// is dropped. Dropped without `commit`, its savepoint is rolled back.
pub struct GateTx {
    guard: Option<OwnedMutexGuard<GateState>>,
    gate: Arc<WriteGate>,
    /// Statements not sent yet (the savepoint, audit events): they go first with the next
    /// statement, or with the `RELEASE`.
    deferred: Option<Sql>,
}

impl GateTx {
    /// The write connection, for the member's statements.
    pub fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.guard
            .as_mut()
            .and_then(|g| g.conn.as_deref_mut())
            .ok_or_else(|| StoreError::Other("write transaction already finished".into()))
    }

    /// Queues a statement to go with the member's next one (or its `RELEASE`).
    pub fn defer(&mut self, sql: Sql) {
        match &mut self.deferred {
            Some(pending) => {
                pending.push(";\n");
                pending.append(sql);
            }
            None => self.deferred = Some(sql),
        }
    }

    /// `sql` preceded by the deferred statements, which count as sent from here on.
    pub fn prepend_deferred<'a>(&mut self, sql: &'a Sql) -> Cow<'a, Sql> {
        match self.deferred.take() {
            Some(mut combined) => {
                combined.push(";\n");
                combined.append(sql.clone());
                Cow::Owned(combined)
            }
            None => Cow::Borrowed(sql),
        }
    }

    /// Sends the deferred statements on their own.
    pub async fn flush_deferred(&mut self) -> Result<(), StoreError> {
        if let Some(pending) = self.deferred.take() {
            run_sql(self.conn()?, &pending).await?;
        }
        Ok(())
    }

    /// Releases the savepoint into the group (with the deferred statements, in one round trip)
    /// and waits until the group's `COMMIT` made it durable (or failed).
    pub async fn commit(mut self, touched: Touched) -> Result<(), StoreError> {
        let mut release = self.deferred.take().unwrap_or_default();
        if !release.text().is_empty() {
            release.push(";\n");
        }
        release.push("RELEASE gatehouse_tx");
        let Some(mut guard) = self.guard.take() else {
            return Err(StoreError::Other(
                "write transaction already finished".into(),
            ));
        };
        let released = match guard.conn.as_deref_mut() {
            Some(conn) => run_sql(conn, &release).await,
            None => Err(StoreError::Other("no write connection".into())),
        };
        if let Err(e) = released {
            // Still dirty: the next holder rolls it back.
            self.gate.schedule_flush(&mut guard);
            return Err(e);
        }
        guard.dirty = false;
        guard.touched = guard.touched.and(touched);
        let (sender, receiver) = oneshot::channel();
        guard.waiting.push(sender);
        self.gate.schedule_flush(&mut guard);
        drop(guard);
        receiver.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the write was interrupted before it committed".into(),
            ))
        })
    }
}

impl Drop for GateTx {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            // Left mid-way: the committer (or the next member) rolls the savepoint back, and
            // the group still commits or ends.
            self.gate.schedule_flush(&mut guard);
        }
    }
}

/// Runs statements (and their arguments) on the write connection.
async fn run_sql(conn: &mut SqliteConnection, sql: &Sql) -> Result<(), StoreError> {
    sqlx::query_with(sql.text(), sql.sqlite_args()?)
        .execute(conn)
        .await?;
    Ok(())
}

/// Runs one statement on the gate's connection.
async fn run(guard: &mut GateState, statement: &str) -> Result<(), StoreError> {
    let conn = guard
        .conn
        .as_deref_mut()
        .ok_or_else(|| StoreError::Other("no write connection".into()))?;
    conn.execute(statement).await?;
    Ok(())
}
