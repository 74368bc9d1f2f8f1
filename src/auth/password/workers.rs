//! The threads every password computation runs on: one per core, started on first use, fed
//! through a queue that a semaphore keeps at most one job per thread deep.
//!
//! Fixed threads rather than tokio's blocking pool because of memory: an argon2id check
//! allocates and frees 19 MiB, and the allocator keeps what a thread freed in that thread's
//! arena. Spread over the blocking pool's many threads (SQLite's work runs there too), every
//! arena kept a block of its own — 16 concurrent LDAP password binds took a server from 36 to
//! 366 MiB, and it kept growing. On a few threads of their own, each reuses its last block, so
//! resident memory stays at about one block per core.
//!
//! Even so glibc placed later blocks in fresh heap regions (4×16 concurrent logins plateaued at
//! 236 MiB), so each thread now keeps one block of argon2 memory and hashes in it
//! (`with_memory`): resident memory is at most one block per thread.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::{Block, Params};
use tokio::sync::{oneshot, Semaphore};

use crate::domain::DomainError;

type Job = Box<dyn FnOnce() + Send>;

/// The queue into the threads, and the limit on jobs in it or running.
struct Pool {
    jobs: SyncSender<Job>,
    slots: Semaphore,
}

fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// The pool, started on first use; `None` if no thread could be started (then the blocking
/// pool does the work, as before, rather than nothing).
fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = parallelism();
        let (jobs, queue) = sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let started = (0..threads)
            .filter(|i| {
                let queue = Arc::clone(&queue);
                std::thread::Builder::new()
                    .name(format!("gatehouse-hash-{i}"))
                    .spawn(move || work(&queue))
                    .map_err(|e| tracing::error!(error = %e, "cannot start a password thread"))
                    .is_ok()
            })
            .count();
        (started > 0).then(|| Pool {
            jobs,
            slots: Semaphore::new(started),
        })
    })
    .as_ref()
}

thread_local! {
    /// A password thread's argon2 memory, kept between jobs (`None` on every other thread).
    static MEMORY: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Most argon2 blocks a password thread keeps: what today's parameters use (19 MiB). A stored
/// hash asking for more (an imported one, up to `formats::MAX_ARGON2_MEMORY_KIB`) is computed
/// in memory of its own, freed afterwards.
fn kept_blocks() -> usize {
    Params::default().block_count()
}

/// Runs `f` over `count` argon2 blocks: on a password thread in the memory it keeps (grown to
/// `count` once), elsewhere (start-up, the CLI) or for a larger count in a fresh allocation.
pub(super) fn with_memory<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let kept = if count <= kept_blocks() {
        MEMORY.with(|m| m.borrow_mut().take())
    } else {
        None
    };
    let Some(mut blocks) = kept else {
        let mut blocks = vec![Block::new(); count];
        return f(&mut blocks);
    };
    if blocks.len() < count {
        blocks.resize(count, Block::new());
    }
    let result = f(&mut blocks[..count]);
    MEMORY.with(|m| *m.borrow_mut() = Some(blocks));
    result
}

/// One thread's loop: take the next job, run it (a panic costs that job, not the thread).
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // Kept memory (put back after each job; after a panic, started afresh).
        MEMORY.with(|m| {
            m.borrow_mut().get_or_insert_with(Vec::new);
        });
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Runs `job` on a password thread once one is free; its result.
pub async fn run<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DomainError> {
    let stopped = |e: &dyn std::fmt::Display| DomainError::Internal(format!("password work: {e}"));
    let Some(pool) = pool() else {
        return tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| stopped(&e));
    };
    let _slot = pool.slots.acquire().await.map_err(|e| stopped(&e))?;
    let (done, result) = oneshot::channel();
    pool.jobs
        .send(Box::new(move || {
            let _ = done.send(job());
        }))
        .map_err(|e| stopped(&e))?;
    result.await.map_err(|e| stopped(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_jobs_on_the_password_threads_and_survives_a_panic() {
        let name = run(|| std::thread::current().name().map(str::to_string))
            .await
            .expect("runs");
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("gatehouse-hash-")),
            "{name:?}"
        );
        assert!(run(|| -> u8 { panic!("boom") }).await.is_err());
        let many: Vec<_> = (0..32u32).map(|i| run(move || i * 2)).collect();
        let mut sum = 0;
        for job in many {
            sum += job.await.expect("runs after a panic");
        }
        assert_eq!(sum, (0..32u32).map(|i| i * 2).sum::<u32>());
    }
}
