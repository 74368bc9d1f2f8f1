//! Lookups of one user by a unique key, read together while others are in flight.
//!
//! An uncached lookup by id, uuid or username is one statement. When many arrive at once — an
//! LDAP application resolving users one `cn` at a time, a script GETting users by id over a
//! directory too large to cache — each was a round trip of its own, and on PostgreSQL the
//! statement's fixed cost (protocol, snapshot, executor start, two context switches) was most
//! of it. On such a backend (`Store::statements_are_round_trips`; not SQLite, where a lookup
//! is a call into the process) a lookup starts at once when fewer than [`MAX_IN_FLIGHT`]
//! statements of its shape are running (so a lone lookup waits for nothing, and reads its own
//! statement in its own task); otherwise it waits for the next statement of that shape, which
//! reads every waiting key (up to [`MAX_KEYS`]) at once.
//!
//! A batch's statement has no sort or limit (its keys bound the answer; on PostgreSQL setting
//! them up cost the executor as much as the lookup), and a drain reads all its batches on one
//! connection (sqlx checks a connection with a round trip whenever it goes back to the pool).
//!
//! A batch starts after each of its lookups was asked for, so what it reads is at least as new
//! as what each asker may expect (its own writes included); the user cache's epoch check
//! still decides whether the answer may be kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::model::{User, UserFilter};
use super::reads::assemble;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::DomainError;
use crate::query::users::{UserField, UserRel};
use crate::store::{users as store_users, Reader, Snapshot, Store};

/// Most statements of one shape running at once (beyond, lookups wait and go together).
const MAX_IN_FLIGHT: usize = 2;
/// Most keys one statement reads.
const MAX_KEYS: usize = 64;

/// A unique key of one user.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum UserKey {
    /// The id.
    Id(i64),
    /// The uuid (exact).
    Uuid(String),
    /// The username (exact).
    Username(String),
    /// The username under ASCII case folding (`LOWER(username)`, as LDAP's `cn` asks).
    UsernameFolded(String),
}

impl UserKey {
    /// Splits `filter` into a unique key it requires and the rest of its conditions, if it
    /// requires one.
    pub(super) fn split(filter: &UserFilter) -> Option<(UserKey, UserFilter)> {
        let parts: Vec<&UserFilter> = match filter {
            Filter::And(parts) => parts.iter().collect(),
            other => vec![other],
        };
        let (index, key) = parts
            .iter()
            .enumerate()
            .find_map(|(i, part)| UserKey::of(part).map(|key| (i, key)))?;
        let rest = parts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, part)| (*part).clone())
            .collect();
        Some((key, Filter::and(rest)))
    }

    fn of(part: &UserFilter) -> Option<UserKey> {
        match part {
            Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(id)) => Some(UserKey::Id(*id)),
            Filter::Compare(UserField::Uuid, Cmp::Eq, Literal::Text(uuid)) => {
                Some(UserKey::Uuid(uuid.clone()))
            }
            Filter::Compare(UserField::Username, Cmp::Eq, Literal::Text(name)) => {
                Some(UserKey::Username(name.clone()))
            }
            Filter::Rel(UserRel::UsernameFolded(name)) => {
                Some(UserKey::UsernameFolded(name.to_ascii_lowercase()))
            }
            _ => None,
        }
    }

    /// Which kind of key this is (lookups batch only with their own kind).
    fn kind(&self) -> &'static str {
        match self {
            UserKey::Id(_) => "id",
            UserKey::Uuid(_) => "uuid",
            UserKey::Username(_) => "username",
            UserKey::UsernameFolded(_) => "folded",
        }
    }

    /// Whether `user` is the one this key names (as the statement compared it: byte-exact,
    /// or ASCII-folded like the backends' `LOWER` on ASCII).
    fn names(&self, user: &User) -> bool {
        match self {
            UserKey::Id(id) => user.id == *id,
            UserKey::Uuid(uuid) => user.uuid == *uuid,
            UserKey::Username(name) => user.username == *name,
            UserKey::UsernameFolded(name) => user.username.to_ascii_lowercase() == *name,
        }
    }

    /// The value an exact key compares its column with (`None` for the folded username, which
    /// compares `LOWER(username)`).
    fn literal(&self) -> Option<Literal> {
        match self {
            UserKey::Id(id) => Some(Literal::Int(*id)),
            UserKey::Uuid(text) | UserKey::Username(text) => Some(Literal::Text(text.clone())),
            UserKey::UsernameFolded(_) => None,
        }
    }

    /// The condition that finds the users these keys (all of one kind) name.
    fn filter(keys: &[UserKey]) -> UserFilter {
        let field = match keys.first() {
            Some(UserKey::Id(_)) => UserField::Id,
            Some(UserKey::Uuid(_)) => UserField::Uuid,
            Some(UserKey::Username(_)) => UserField::Username,
            // Through the unique `LOWER(username)` index, one scan for all the keys.
            Some(UserKey::UsernameFolded(_)) => {
                return Filter::Rel(UserRel::UsernamesFolded(
                    keys.iter()
                        .filter_map(|k| match k {
                            UserKey::UsernameFolded(name) => Some(name.clone()),
                            _ => None,
                        })
                        .collect(),
                ))
            }
            None => return Filter::Nothing,
        };
        Filter::In(field, keys.iter().filter_map(UserKey::literal).collect())
    }
}

/// What a batch answers one lookup: the user (or none), or `Retry` when the batch could not
/// answer it (the statement failed, or a row came back that no key of the batch names under
/// in-memory folding): the lookup then reads on its own, which gives its own answer or error.
enum Answer {
    Found(Option<Arc<User>>),
    Retry,
}

/// One lookup waiting for a batch.
struct Waiter {
    key: UserKey,
    /// The groups that make their members superusers, as the asker last read them.
    granting: Arc<[i64]>,
    reply: oneshot::Sender<Answer>,
}

/// The lookups of one shape (key kind and other conditions) and its running statements.
struct Queue {
    rest: UserFilter,
    in_flight: usize,
    waiting: Vec<Waiter>,
}

/// The lookups waiting for a batch, by shape.
#[derive(Default)]
pub(super) struct LookupBatches {
    queues: Mutex<HashMap<String, Queue>>,
}

impl LookupBatches {
    /// The user `key` names among those matching `rest` (`None` if there is none), read with
    /// the other lookups of the same shape waiting meanwhile.
    pub(super) async fn lookup(
        self: &Arc<Self>,
        store: &Store,
        granting: Arc<[i64]>,
        key: UserKey,
        rest: UserFilter,
    ) -> Result<Option<User>, DomainError> {
        let shape = format!("{} {rest:?}", key.kind());
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let queue = queues.entry(shape.clone()).or_insert_with(|| Queue {
                rest: rest.clone(),
                in_flight: 0,
                waiting: Vec::new(),
            });
            queue.waiting.push(Waiter {
                key: key.clone(),
                granting: granting.clone(),
                reply,
            });
            let start = queue.in_flight < MAX_IN_FLIGHT;
            if start {
                queue.in_flight += 1;
            }
            start
        };
        if start {
            self.start(store, &shape).await;
        }
        match answer.await {
            Ok(Answer::Found(user)) => Ok(user.map(Arc::unwrap_or_clone)),
            Ok(Answer::Retry) | Err(_) => {
                let filter = Filter::and(vec![rest, UserKey::filter(&[key])]);
                Ok(read(&mut &*store, store, &filter, &granting).await?.pop())
            }
        }
    }

    /// A lookup that took a place reads the first batch itself (one with its own key: a lone
    /// lookup takes no detour through another task), then hands the place to a task of its
    /// own if more lookups wait, so its answer does not wait for theirs. Should the asker go
    /// away meanwhile (a closed connection), the place is given up and the batch's lookups read
    /// on their own (their answer channels close).
    async fn start(self: &Arc<Self>, store: &Store, shape: &str) {
        let mut running = Running {
            batches: self,
            shape,
            finished: false,
        };
        let Some((rest, batch)) = self.next_batch(&mut running) else {
            return;
        };
        let mut held: Option<Snapshot<'_>> = None;
        answer(store, &mut held, rest, batch).await;
        drop(held);
        if self.keep_if_waiting(&mut running) {
            tokio::spawn(self.clone().drain(store.clone(), shape.to_string()));
        }
    }

    /// Reads batches of the waiting lookups of `shape` until none waits (in a place handed
    /// over by `start`).
    async fn drain(self: Arc<Self>, store: Store, shape: String) {
        let mut running = Running {
            batches: &self,
            shape: &shape,
            finished: false,
        };
        // One connection for all of this drain's batches, taken with the first (and again
        // after a failure): a connection given back to the pool costs a round trip.
        let mut held: Option<Snapshot<'_>> = None;
        while let Some((rest, batch)) = self.next_batch(&mut running) {
            answer(&store, &mut held, rest, batch).await;
        }
    }

    /// The next batch of `running`'s shape, or none (its place given up) when none waits:
    /// under the same lock as the check, so a lookup queued after it takes a place of its own.
    fn next_batch(&self, running: &mut Running<'_>) -> Option<(UserFilter, Vec<Waiter>)> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queues.get_mut(running.shape) else {
            running.finished = true;
            return None;
        };
        if queue.waiting.is_empty() {
            running.finished = true;
            leave(&mut queues, running.shape);
            return None;
        }
        let take = queue.waiting.len().min(MAX_KEYS);
        let batch: Vec<Waiter> = queue.waiting.drain(..take).collect();
        Some((queue.rest.clone(), batch))
    }

    /// Whether lookups of `running`'s shape still wait, its place then kept for a drain that
    /// reads them; otherwise the place is given up (under the same lock as the check).
    fn keep_if_waiting(&self, running: &mut Running<'_>) -> bool {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        running.finished = true;
        match queues.get(running.shape) {
            Some(queue) if !queue.waiting.is_empty() => true,
            Some(_) => {
                leave(&mut queues, running.shape);
                false
            }
            None => false,
        }
    }
}

/// A running drain of one shape. Should it end without finishing (a panic), it gives up its
/// place, and if it was the last, the lookups still waiting are let go to read on their own
/// (their answer channels close) rather than wait for a drain that will never come.
struct Running<'a> {
    batches: &'a LookupBatches,
    shape: &'a str,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queues = self
            .batches
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        leave(&mut queues, self.shape);
    }
}

/// One drain of `shape` ends: the last one takes the queue away (with any lookup still in it,
/// whose answer channel then closes).
fn leave(queues: &mut HashMap<String, Queue>, shape: &str) {
    if let Some(queue) = queues.get_mut(shape) {
        queue.in_flight = queue.in_flight.saturating_sub(1);
        if queue.in_flight == 0 {
            queues.remove(shape);
        }
    }
}

/// Reads one batch (on `held`, taking a connection if there is none) and answers each of its
/// lookups.
async fn answer<'a>(
    store: &'a Store,
    held: &mut Option<Snapshot<'a>>,
    rest: UserFilter,
    batch: Vec<Waiter>,
) {
    let mut keys: Vec<UserKey> = Vec::with_capacity(batch.len());
    for waiter in &batch {
        if !keys.contains(&waiter.key) {
            keys.push(waiter.key.clone());
        }
    }
    // Padded to a power of two with repeats of a key (harmless in an IN or OR): the statement's
    // text — hence its prepared plan — is one of a few per shape, not one per batch size.
    let wanted = keys.len().next_power_of_two();
    if let Some(first) = keys.first().cloned() {
        keys.resize(wanted, first);
    }
    // The newest superuser groups any asker read (each asker's is at least as new as its ask).
    let granting = batch
        .last()
        .map(|w| w.granting.clone())
        .unwrap_or_else(|| Arc::from(Vec::new()));
    let filter = Filter::and(vec![rest, UserKey::filter(&keys)]);
    let read_on_held = async {
        let db = match held {
            Some(db) => db,
            None => held.insert(store.connection().await?),
        };
        read(db, store, &filter, &granting).await
    };
    let users: Vec<Arc<User>> = match read_on_held.await {
        Ok(users) => users.into_iter().map(Arc::new).collect(),
        Err(_) => {
            // The connection may be what failed: the next batch takes another.
            *held = None;
            for waiter in batch {
                let _ = waiter.reply.send(Answer::Retry);
            }
            return;
        }
    };
    let unclaimed = users
        .iter()
        .any(|user| !batch.iter().any(|w| w.key.names(user)));
    for waiter in batch {
        let found = users.iter().find(|user| waiter.key.names(user));
        let reply = match found {
            Some(user) => Answer::Found(Some(user.clone())),
            // A row the in-memory folding did not pair (a backend folding more than ASCII):
            // the unanswered ask again on their own rather than miss it.
            None if unclaimed => Answer::Retry,
            None => Answer::Found(None),
        };
        // An asker that went away needs no answer.
        let _ = waiter.reply.send(reply);
    }
}

/// The users matching `filter` (which names them by unique keys), with their relations, in one
/// statement without a sort or a limit (the keys bound the answer; the executor of a
/// PostgreSQL statement set up a sort and a limit on every call, as much work as the lookup).
async fn read<R: Reader>(
    db: &mut R,
    store: &Store,
    filter: &UserFilter,
    granting: &[i64],
) -> Result<Vec<User>, DomainError> {
    let (rows, relations) =
        store_users::by_keys_with_relations(db, store, filter, granting).await?;
    Ok(assemble(rows, relations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_split_from_the_other_conditions() {
        let filter = Filter::and(vec![
            Filter::Rel(UserRel::UsernameFolded("Alice".into())),
            Filter::Compare(UserField::Id, Cmp::Gt, Literal::Int(0)),
        ]);
        let (key, rest) = UserKey::split(&filter).expect("a key");
        assert_eq!(key, UserKey::UsernameFolded("alice".into()));
        assert_eq!(
            rest,
            Filter::Compare(UserField::Id, Cmp::Gt, Literal::Int(0))
        );
        let by_id = Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(7));
        assert_eq!(UserKey::split(&by_id), Some((UserKey::Id(7), Filter::All)));
        let no_key = Filter::Compare(UserField::Id, Cmp::Gt, Literal::Int(7));
        assert_eq!(UserKey::split(&no_key), None);
    }

    #[test]
    fn keys_of_one_kind_become_one_condition() {
        let keys = [UserKey::Id(1), UserKey::Id(2)];
        assert_eq!(
            UserKey::filter(&keys),
            Filter::In(UserField::Id, vec![Literal::Int(1), Literal::Int(2)])
        );
        let folded = [UserKey::UsernameFolded("a".into())];
        assert_eq!(
            UserKey::filter(&folded),
            Filter::Rel(UserRel::UsernamesFolded(vec!["a".into()]))
        );
    }
}
