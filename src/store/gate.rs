//! Group commit for SQLite's single writer. Every write transaction runs as a savepoint inside
//! one open transaction on the write connection; a committer then makes the whole group durable
//! with one `COMMIT` (one fsync with `synchronous=FULL`) and only then answers each member. No
//! write is acknowledged before the fsync that carries it, so durability is what it was with one
//! `COMMIT` per request; throughput under concurrent writes is no longer one fsync per write.
//!
//! The gate is held while a member runs its statements, so those run synchronously on the
//! member's own thread (`writer`): each takes microseconds, and no thread switch is paid per
//! statement while other writers wait. What can block for long goes to the blocking pool:
//! opening the connection, a `BEGIN IMMEDIATE` that finds another process holding the lock, and
//! `COMMIT` (the fsync).
//!
//! Ordering: the gate is a fair (FIFO) mutex. A member that releases its savepoint schedules a
//! committer, which queues for the gate behind every writer already waiting, so a group is the
//! writers that queued before its committer. A member reading another member's uncommitted
//! rows is therefore always in the same group, and fails with it if its `COMMIT` fails.
//!
//! Cancellation: statements cannot be interrupted half-way (they are synchronous); a member
//! dropped between them leaves its savepoint for the next holder to roll back. The blocking
//! steps own the connection while they run: if whoever waits for one goes away, the connection
//! is closed with the step's outcome (an unfinished transaction rolls back), never reused in an
//! unknown state.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::writer::{self, WriterConfig};
use super::{Changes, StoreError, Touched};

/// The one write connection and the group of transactions waiting for its next `COMMIT`.
pub struct WriteGate {
    config: WriterConfig,
    changes: Arc<Changes>,
    state: Arc<Mutex<GateState>>,
}

struct GateState {
    /// The write connection; `None` until the first write and after a failure.
    conn: Option<Connection>,
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
}

/// The savepoint every member runs in.
const SAVEPOINT: &str = "SAVEPOINT gatehouse_tx";

impl WriteGate {
    /// A gate over the database file `config` names; the connection opens at the first write.
    pub fn new(config: WriterConfig, changes: Arc<Changes>) -> WriteGate {
        WriteGate {
            config,
            changes,
            state: Arc::new(Mutex::new(GateState {
                conn: None,
                open: false,
                dirty: false,
                waiting: Vec::new(),
                touched: Touched::NONE,
                flush_scheduled: false,
            })),
        }
    }

    /// Starts a member transaction: waits for the gate, opens the group if needed, and sets the
    /// member's savepoint.
    pub async fn begin(self: &Arc<Self>) -> Result<GateTx, StoreError> {
        let mut guard = self.state.clone().lock_owned().await;
        self.recover(&mut guard);
        if !guard.open {
            self.open_group(&mut guard).await?;
        }
        let conn = guard
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Other("no write connection".into()))?;
        if let Err(e) = writer::batch(conn, SAVEPOINT) {
            // The group may be unusable; end it so nobody builds on it.
            self.abort_group(&mut guard, e.clone());
            return Err(e);
        }
        guard.dirty = true;
        Ok(GateTx {
            guard: Some(guard),
            gate: self.clone(),
        })
    }

    /// `BEGIN IMMEDIATE` (taking the write lock now). Tried at once on this thread; when
    /// another connection holds the lock, or there is no connection yet, the wait (up to the
    /// busy timeout) and the opening happen on the blocking pool.
    async fn open_group(&self, guard: &mut GateState) -> Result<(), StoreError> {
        if let Some(conn) = &guard.conn {
            if try_begin_now(conn).is_ok() {
                guard.open = true;
                return Ok(());
            }
        }
        let conn = guard.conn.take();
        let config = self.config.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let conn = match conn {
                Some(conn) => conn,
                None => writer::open(&config)?,
            };
            writer::batch(&conn, "BEGIN IMMEDIATE")?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the write connection failed: {e}")))?;
        // On failure the connection is dropped with the closure: closed, never reused.
        guard.conn = Some(outcome?);
        guard.open = true;
        Ok(())
    }

    /// Puts the gate back in a known state: rolls back a savepoint a member left behind (if
    /// even that fails, ends the whole group).
    fn recover(&self, guard: &mut GateState) {
        if !guard.dirty {
            return;
        }
        guard.dirty = false;
        let Some(conn) = &guard.conn else {
            return;
        };
        let rolled_back = match writer::batch(conn, "ROLLBACK TO gatehouse_tx") {
            Ok(()) => writer::batch(conn, "RELEASE gatehouse_tx"),
            // A member cut off during its own RELEASE: the release happened, its work is part
            // of the group (landed, never acknowledged).
            Err(StoreError::Other(m)) if m.contains("no such savepoint") => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = rolled_back {
            self.abort_group(guard, e);
        }
    }

    /// Rolls the open group back, tells every waiting member it failed, and closes the
    /// connection (its state is unknown after a failure; the next group opens a fresh one).
    fn abort_group(&self, guard: &mut GateState, error: StoreError) {
        guard.open = false;
        guard.dirty = false;
        guard.touched = Touched::NONE;
        for waiter in guard.waiting.drain(..) {
            let _ = waiter.send(Err(error.clone()));
        }
        if let Some(conn) = guard.conn.take() {
            if !conn.is_autocommit() {
                let _ = writer::batch(&conn, "ROLLBACK");
            }
            drop(conn);
        }
    }

    /// Queues a committer for the group, once.
    fn schedule_flush(self: &Arc<Self>, guard: &mut GateState) {
        if !guard.flush_scheduled {
            guard.flush_scheduled = true;
            let gate = self.clone();
            tokio::spawn(async move { gate.flush().await });
        }
    }

    /// Commits the group: waits for the gate behind every writer already queued, brings the
    /// search index up to date with the group's writes, then makes everything released so far
    /// durable with one `COMMIT` and answers each member.
    async fn flush(self: Arc<Self>) {
        let mut guard = self.state.clone().lock_owned().await;
        guard.flush_scheduled = false;
        self.recover(&mut guard);
        if !guard.open {
            return;
        }
        let Some(conn) = guard.conn.take() else {
            self.abort_group(&mut guard, StoreError::Other("no write connection".into()));
            return;
        };
        // The fsync happens here, off the async threads. If this task is dropped (shutdown),
        // the connection closes with the closure and the group rolls back unacknowledged.
        let committed = tokio::task::spawn_blocking(move || {
            let result =
                writer::apply_search_queue(&conn).and_then(|()| writer::batch(&conn, "COMMIT"));
            (conn, result)
        })
        .await;
        let (conn, result) = match committed {
            Ok(pair) => pair,
            Err(e) => {
                let error = StoreError::Unavailable(format!("the commit did not finish: {e}"));
                self.changes.bump(Touched::ALL);
                self.abort_group(&mut guard, error);
                return;
            }
        };
        guard.conn = Some(conn);
        match result {
            Ok(()) => {
                guard.open = false;
                // Caches learn of the writes before any member is answered.
                self.changes.bump(guard.touched);
                guard.touched = Touched::NONE;
                for waiter in guard.waiting.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "group commit failed; its writes were not acknowledged");
                // The outcome is unknown to caches too.
                self.changes.bump(Touched::ALL);
                self.abort_group(&mut guard, e);
            }
        }
    }
}

/// `BEGIN IMMEDIATE` without waiting: fails at once with "busy" if another connection holds
/// the write lock (the caller then waits on the blocking pool instead of this thread).
fn try_begin_now(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::ZERO)
        .map_err(writer::map_error)?;
    let begun = writer::batch(conn, "BEGIN IMMEDIATE");
    conn.busy_timeout(writer::BUSY_TIMEOUT)
        .map_err(writer::map_error)?;
    begun
}

/// One member transaction: holds the gate (and so the write connection) until it commits or
/// is dropped. Dropped without `commit`, its savepoint is rolled back.
pub struct GateTx {
    guard: Option<OwnedMutexGuard<GateState>>,
    gate: Arc<WriteGate>,
}

impl GateTx {
    /// The write connection, for the member's statements.
    pub fn conn(&mut self) -> Result<&Connection, StoreError> {
        self.guard
            .as_ref()
            .and_then(|g| g.conn.as_ref())
            .ok_or_else(|| StoreError::Other("write transaction already finished".into()))
    }

    /// Releases the savepoint into the group and waits until the group's `COMMIT` made it
    /// durable (or failed).
    pub async fn commit(mut self, touched: Touched) -> Result<(), StoreError> {
        let Some(mut guard) = self.guard.take() else {
            return Err(StoreError::Other(
                "write transaction already finished".into(),
            ));
        };
        let released = match &guard.conn {
            Some(conn) => writer::batch(conn, "RELEASE gatehouse_tx"),
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
