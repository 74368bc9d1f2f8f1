//! Group commit for SQLite's single writer. Every write transaction runs as a savepoint inside
//! one open transaction on the write connection; a committer then ends the whole group with one
//! `COMMIT` and one sync of the write-ahead log, and only then answers each member. No write is
//! acknowledged before the sync that carries it, so a 2xx means the change is on disk (across
//! power loss too), as with one `COMMIT` per request under `synchronous=FULL`; throughput under
//! concurrent writes is no longer one fsync per write.
//!
//! The sync does not hold the writer: the `COMMIT` runs with `synchronous=NORMAL` (the frames
//! reach the log, not yet the disk), the gate is released, and the log is then synced
//! (`writer::sync_wal`) while the next group already runs its statements. One sync covers every
//! commit that returned before it started, so groups that commit while a sync is under way
//! share the next one. A group's writes are visible to readers from its `COMMIT`, a sync's
//! duration before they are acknowledged: a crash of the process loses nothing (the log is in
//! the kernel's cache), a power loss in that window can take back a write that was read but
//! never acknowledged.
//!
//! Checkpoints (copying the log into the database) run beside the writer on a connection of
//! their own, every `writer::CHECKPOINT_FRAMES` pages; they cannot copy what is appended while
//! they run, so when the log reaches `writer::RESTART_FRAMES` pages all the same, one runs while
//! the gate is held and the log starts over at the next group.
//!
//! The gate is held while a member runs its statements, so those run synchronously on the
//! member's own thread (`writer`): each takes microseconds, and no thread switch is paid per
//! statement while other writers wait; so does the `COMMIT`, which never waits for the disk.
//! What can block for long goes to the blocking pool: opening the connection, a `BEGIN
//! IMMEDIATE` that finds another process holding the lock, checkpoints and the sync.
//!
//! Ordering: the gate is a fair (FIFO) mutex. A member that releases its savepoint schedules a
//! committer, which queues for the gate behind every writer already waiting, so a group is the
//! writers that queued before its committer. A member reading another member's uncommitted
//! rows is therefore always in the same group, and fails with it if its `COMMIT` fails. A member
//! of a later group that read an earlier group's rows is answered after that group's sync too:
//! syncs cover commits in order.
//!
//! Cancellation: statements cannot be interrupted half-way (they are synchronous); a member
//! dropped between them leaves its savepoint for the next holder to roll back. The blocking
//! steps own the connection while they run: if whoever waits for one goes away, the connection
//! is closed with the step's outcome (an unfinished transaction rolls back), never reused in an
//! unknown state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::writer::{self, WriteConnection, WriterConfig};
use super::{Changes, StoreError, Touched};

/// The one write connection and the group of transactions waiting for its next `COMMIT`.
pub struct WriteGate {
    config: WriterConfig,
    changes: Arc<Changes>,
    state: Arc<Mutex<GateState>>,
    durability: Durability,
    checkpointer: Arc<Checkpointer>,
    /// Writers waiting and group commit sizes, for metrics.
    counters: super::stats::GateCounters,
}

/// Checkpoints beside the writer: they copy the log into the database on a connection of their
/// own while the next groups write, so the writer is not held for them.
#[derive(Default)]
struct Checkpointer {
    /// The checkpoint connection, opened at the first checkpoint.
    conn: std::sync::Mutex<Option<Connection>>,
    /// A checkpoint is running (at most one at a time).
    running: std::sync::atomic::AtomicBool,
}

/// Which commits are on disk: commits are numbered in order, and one sync of the log covers all
/// of them up to the last one that returned before it started.
#[derive(Default)]
struct Durability {
    /// The number of the last `COMMIT` that returned.
    committed: AtomicU64,
    /// Held while the log is synced (one sync at a time; the groups behind it share the next).
    synced: Mutex<Synced>,
}

/// What the syncs so far established.
#[derive(Default)]
struct Synced {
    /// Every commit up to this number is on disk.
    durable: u64,
    /// A sync failed that was to cover the commits up to this number: their durability is
    /// unknown (the kernel may have dropped the pages), so they are never acknowledged.
    failed: u64,
}

struct GateState {
    /// The write connection; `None` until the first write and after a failure.
    conn: Option<WriteConnection>,
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
    /// The log's length after the last commit, and the pages appended since the last
    /// checkpoint beside the writer was started.
    log_frames: u64,
    unchecked_frames: u64,
    /// `PRAGMA data_version` of the write connection at the last look for other processes'
    /// commits (`None`: not looked at since this connection opened).
    data_version: Option<i64>,
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
                log_frames: 0,
                unchecked_frames: 0,
                data_version: None,
            })),
            durability: Durability::default(),
            checkpointer: Arc::default(),
            counters: Default::default(),
        }
    }

    /// Writers waiting for the gate now and the sizes of the group commits so far.
    pub fn stats(&self) -> super::stats::WriterStats {
        self.counters.snapshot()
    }

    /// Starts a member transaction: waits for the gate, opens the group if needed, and sets the
    /// member's savepoint.
    pub async fn begin(self: &Arc<Self>) -> Result<GateTx, StoreError> {
        let queued = self.counters.queue();
        let mut guard = self.state.clone().lock_owned().await;
        drop(queued);
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
        if conn.is_none() {
            // A new connection: its data_version says nothing about the last one's.
            guard.data_version = None;
        }
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

    /// Whether another process (an administration command, an import, another server on the
    /// same file) committed since the last call. The write connection's `PRAGMA data_version`
    /// moves only for commits made by *other* connections, and this process writes through
    /// this one alone, so the server's own writes never count. The first look on a connection
    /// answers true: what happened before it cannot be known.
    pub async fn foreign_commits(self: &Arc<Self>) -> Result<bool, StoreError> {
        let mut guard = self.state.clone().lock_owned().await;
        self.recover(&mut guard);
        if guard.conn.is_none() {
            let config = self.config.clone();
            let opened = tokio::task::spawn_blocking(move || writer::open(&config))
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("the write connection failed: {e}"))
                })?;
            guard.conn = Some(opened?);
            guard.data_version = None;
        }
        let conn = guard
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Other("no write connection".into()))?;
        let version: i64 = conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(writer::map_error)?;
        Ok(guard.data_version.replace(version) != Some(version))
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
    /// search index up to date with the group's writes, ends the transaction with one `COMMIT`,
    /// frees the gate for the next group, and answers each member once the log is synced.
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
        // With `synchronous=NORMAL` and no automatic checkpoint a `COMMIT` only writes the log
        // (into the kernel's cache): it runs here, without a hand-off to another thread. The
        // one exception is the first commit after the log started over, which syncs the log's
        // new header (once per `RESTART_FRAMES` pages).
        let result =
            writer::apply_search_queue(&conn).and_then(|()| writer::batch(&conn, "COMMIT"));
        // The log is copied into the database beside the writer every `CHECKPOINT_FRAMES`
        // pages; when it is long all the same, while the gate is still held, so that the next
        // group starts it over (a checkpoint syncs: the blocking pool). If this task is dropped
        // meanwhile (shutdown), the connection closes with the closure.
        let frames = conn.log_frames();
        if result.is_ok() {
            self.counters.committed(guard.waiting.len());
            self.checkpoint_beside(&mut guard, frames);
        }
        let conn = if result.is_ok() && frames >= writer::RESTART_FRAMES {
            let checkpointed = tokio::task::spawn_blocking(move || {
                if let Err(e) = writer::checkpoint(&conn) {
                    tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
                }
                conn
            })
            .await;
            match checkpointed {
                Ok(conn) => conn,
                Err(e) => {
                    // Committed, but the connection is gone: the sync below still decides.
                    tracing::warn!(error = %e, "the checkpoint did not finish");
                    guard.open = false;
                    return self.answer_after_commit(guard, Touched::ALL).await;
                }
            }
        } else {
            conn
        };
        guard.conn = Some(conn);
        match result {
            Ok(()) => {
                guard.open = false;
                let touched = guard.touched;
                self.answer_after_commit(guard, touched).await;
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

impl WriteGate {
    /// Counts the pages a commit appended to the log (`frames` is its length after it) and
    /// starts a checkpoint beside the writer once `CHECKPOINT_FRAMES` have gathered, unless one
    /// is still running.
    fn checkpoint_beside(&self, guard: &mut GateState, frames: u64) {
        // A shorter log than before: it started over.
        let appended = frames.checked_sub(guard.log_frames).unwrap_or(frames);
        guard.log_frames = frames;
        guard.unchecked_frames += appended;
        if guard.unchecked_frames < writer::CHECKPOINT_FRAMES
            || self.checkpointer.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        guard.unchecked_frames = 0;
        let checkpointer = self.checkpointer.clone();
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || {
            if let Ok(mut conn) = checkpointer.conn.lock() {
                if conn.is_none() {
                    match writer::open_checkpointer(&config) {
                        Ok(opened) => *conn = Some(opened),
                        Err(e) => {
                            tracing::warn!(error = %e, "opening the checkpoint connection failed")
                        }
                    }
                }
                if let Some(open) = conn.as_ref() {
                    if let Err(e) = writer::checkpoint(open) {
                        tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
                        // Opened afresh next time.
                        *conn = None;
                    }
                }
            }
            checkpointer.running.store(false, Ordering::Release);
        });
    }

    /// After a successful `COMMIT`: tells the caches, frees the gate for the next group, and
    /// answers the group's members once the log that carries it is synced.
    async fn answer_after_commit(&self, mut guard: OwnedMutexGuard<GateState>, touched: Touched) {
        // Readers see the writes from here on; caches learn of them at once.
        self.changes.bump(touched);
        guard.touched = Touched::NONE;
        let waiting = std::mem::take(&mut guard.waiting);
        // Numbered while the gate is held: in the order of the commits.
        let commit = self.durability.committed.fetch_add(1, Ordering::SeqCst) + 1;
        drop(guard);
        let outcome = self.make_durable(commit).await;
        for waiter in waiting {
            let _ = waiter.send(outcome.clone());
        }
    }

    /// Waits until commit number `commit` is on disk: syncs the log unless a sync that started
    /// after that commit returned has already succeeded (or failed).
    async fn make_durable(&self, commit: u64) -> Result<(), StoreError> {
        let mut synced = self.durability.synced.lock().await;
        if synced.durable >= commit {
            return Ok(());
        }
        if synced.failed >= commit {
            return Err(sync_failed());
        }
        // Every commit that has returned by now is covered by this sync.
        let covers = self.durability.committed.load(Ordering::SeqCst);
        let config = self.config.clone();
        let outcome = tokio::task::spawn_blocking(move || writer::sync_wal(&config))
            .await
            .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("the sync failed: {e}"))));
        match outcome {
            Ok(()) => {
                synced.durable = covers;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "syncing the write-ahead log failed; the writes it \
                    carried were not acknowledged");
                synced.failed = covers;
                Err(sync_failed())
            }
        }
    }
}

/// The answer to the members of a group whose sync failed.
fn sync_failed() -> StoreError {
    StoreError::Unavailable(
        "the write could not be made durable; it may or may not have landed".into(),
    )
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
            .and_then(|g| g.conn.as_deref())
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
