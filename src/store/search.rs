//! Which trigrams of a user search term the SQLite search index (`users_search`, FTS5
//! `trigram`) is asked for.
//!
//! Any subset of a term's trigrams finds a superset of the users whose text contains the term
//! (the `LIKE` decides), so the choice only changes the cost. FTS5 reads every list it is given:
//! a phrase of all trigrams pays for the commonest one (`er-` is in every `bench-user-…` row, so
//! a search for a whole username read 1M entries at 1M users). The planner asks for the rarest
//! few instead, from document counts it estimates once per trigram and keeps for a while. When
//! even the rarest trigram is in a large share of the rows, the index is skipped: reading the
//! table in page order and stopping after one page is then cheaper than the index.
//!
//! A term that holds the start of a word (letters or digits right after an ASCII character that
//! is neither) can also find its candidates in the word index (`users_words`, FTS5 `unicode61`):
//! every matching text has a word starting with them. That list is used instead of the
//! trigrams' when it is shorter than the rarest trigram's.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Sql, Store, StoreError};

/// Counts stop here: a trigram in this many rows or more is "common".
const COUNT_CAP: i64 = 65_536;
/// Estimates are refreshed after this long (they steer cost only; the answers are exact).
const MAX_AGE: Duration = Duration::from_secs(600);
/// The estimates kept at most (the cache is emptied when full).
const MAX_ENTRIES: usize = 65_536;
/// Distinct trigrams of one term considered at most (spread over the term).
const MAX_CONSIDERED: usize = 24;
/// Trigrams asked of the index at most.
const MAX_CHOSEN: usize = 4;
/// Word starts shorter than this are not looked up (like trigrams, they find too much).
const MIN_WORD: usize = 3;
/// Word starts of one term considered at most.
const MAX_WORDS: usize = 4;
/// A further trigram is asked for when its list is at most this many times the rarest one…
const SPREAD: i64 = 4;
/// …or this short (short lists cost nothing to intersect).
const SHORT_LIST: i64 = 2_048;
/// The index is skipped when the rarest trigram is capped and in at least one row in this many.
const SCAN_SHARE: i64 = 4;

/// How a search term finds its candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateSource {
    /// Every row is tested with `LIKE` (short terms, terms whose every trigram is common).
    Scan,
    /// The rows holding all of these trigrams are tested.
    Trigrams(Vec<String>),
    /// The rows holding a word that starts with this text are tested.
    WordStart(String),
}

impl CandidateSource {
    /// FTS5 query text for the chosen trigrams (each quoted; `"` doubled).
    pub fn match_query(trigrams: &[String]) -> String {
        trigrams
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// The lookups chosen for the search terms of one query, by term.
#[derive(Debug, Default)]
pub struct SearchPlan {
    lookups: HashMap<String, CandidateSource>,
}

impl SearchPlan {
    /// The lookup for `term` (a scan when the term was not planned).
    pub fn lookup(&self, term: &str) -> &CandidateSource {
        self.lookups.get(term).unwrap_or(&CandidateSource::Scan)
    }
}

/// The distinct trigrams (three characters, as FTS5's trigram tokenizer cuts them) of a folded
/// term, first appearance first; none for a term shorter than three characters or holding a NUL
/// (FTS5 reads a query only up to a NUL).
pub fn trigrams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 3 || chars.contains(&'\0') {
        return Vec::new();
    }
    // A set beside the ordered list: a long term would make a linear `contains` quadratic.
    let mut distinct = HashSet::new();
    let mut seen = Vec::new();
    for window in chars.windows(3) {
        let trigram: String = window.iter().collect();
        if distinct.insert(trigram.clone()) {
            seen.push(trigram);
        }
    }
    if seen.len() > MAX_CONSIDERED {
        // Evenly spread, first and last included.
        let last = seen.len() - 1;
        seen = (0..MAX_CONSIDERED)
            .map(|i| seen[i * last / (MAX_CONSIDERED - 1)].clone())
            .collect();
    }
    seen
}

impl CandidateSource {
    /// FTS5 query text for the words starting with `start` (quoted, `"` doubled, then `*`).
    pub fn prefix_query(start: &str) -> String {
        format!("\"{}\"*", start.replace('"', "\"\""))
    }
}

/// The word starts a folded term holds: each run of ASCII letters and digits right after an
/// ASCII character that is neither (nor NUL), first appearance first. A text holding the term
/// holds that character before the run, and FTS5's `unicode61` splits words at every such
/// character, so the run begins a word of the text (which may go on past it). Runs shorter than
/// `MIN_WORD` are left out.
pub fn word_starts(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    let mut starts: Vec<String> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if !c.is_ascii() || c.is_ascii_alphanumeric() || *c == '\0' {
            continue;
        }
        let run: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if run.len() >= MIN_WORD && !starts.contains(&run) {
            starts.push(run);
        }
    }
    starts.truncate(MAX_WORDS);
    starts
}

/// Chooses between the term's trigram lookup and its rarest word start (`words`: estimated
/// document counts of the word starts): the word when its list is shorter than the rarest
/// trigram's.
pub fn choose_with_words(
    trigrams: Vec<(String, i64)>,
    words: Vec<(String, i64)>,
    rows: i64,
) -> CandidateSource {
    let rarest_trigram = trigrams.iter().map(|(_, n)| *n).min();
    let rarest_word = words.into_iter().min_by_key(|(_, n)| *n);
    match (rarest_word, rarest_trigram) {
        (Some((word, n)), Some(t)) if n < t => CandidateSource::WordStart(word),
        _ => choose(trigrams, rows),
    }
}

/// Chooses the lookup for one term from estimated document counts of its trigrams (`rows` is
/// the number of users, estimated).
pub fn choose(mut counts: Vec<(String, i64)>, rows: i64) -> CandidateSource {
    // Stable: among equal counts the earlier trigram wins.
    counts.sort_by_key(|(_, n)| *n);
    let Some((_, rarest)) = counts.first() else {
        return CandidateSource::Scan;
    };
    let rarest = *rarest;
    if rarest >= COUNT_CAP && rarest.saturating_mul(SCAN_SHARE) >= rows {
        return CandidateSource::Scan;
    }
    let limit = rarest
        .saturating_mul(SPREAD)
        .clamp(SHORT_LIST, COUNT_CAP - 1);
    let chosen: Vec<String> = counts
        .into_iter()
        .enumerate()
        .filter(|(i, (_, n))| *i == 0 || *n <= limit)
        .take(MAX_CHOSEN)
        .map(|(_, (t, _))| t)
        .collect();
    CandidateSource::Trigrams(chosen)
}

/// A count (of a trigram's rows, or of users) and when it was taken.
struct Estimate {
    count: i64,
    at: Instant,
}

/// Document-count estimates of trigrams in the user search index, shared by all requests.
#[derive(Default)]
pub struct TrigramStats {
    estimates: Mutex<HashMap<String, Estimate>>,
    rows: Mutex<Option<Estimate>>,
}

#[derive(sqlx::FromRow, serde::Deserialize)]
struct CountRow {
    idx: i64,
    docs: i64,
}

impl TrigramStats {
    /// Plans the lookup of every term in `terms` (SQLite; on PostgreSQL the `LIKE` is served by
    /// the `pg_trgm` index and every term scans here).
    pub async fn plan(&self, store: &Store, terms: &[&str]) -> Result<SearchPlan, StoreError> {
        let mut plan = SearchPlan::default();
        if store.dialect() != super::Dialect::Sqlite {
            return Ok(plan);
        }
        for term in terms {
            let lookup = self.plan_term(store, term).await?;
            plan.lookups.insert((*term).to_string(), lookup);
        }
        Ok(plan)
    }

    async fn plan_term(&self, store: &Store, term: &str) -> Result<CandidateSource, StoreError> {
        let wanted = trigrams(term);
        if wanted.is_empty() {
            return Ok(CandidateSource::Scan);
        }
        let trigram_counts = self
            .estimate(store, "users_search", &wanted, |t| {
                CandidateSource::match_query(std::slice::from_ref(&t.to_string()))
            })
            .await?;
        let words = word_starts(term);
        // Cached under a key no trigram has (a trigram never holds NUL).
        let word_keys: Vec<String> = words.iter().map(|w| format!("\0{w}")).collect();
        let word_counts = self
            .estimate(store, "users_words", &word_keys, |k| {
                CandidateSource::prefix_query(&k[1..])
            })
            .await?
            .into_iter()
            .map(|(k, n)| (k[1..].to_string(), n))
            .collect();
        let rows = self.rows(store).await?;
        Ok(choose_with_words(trigram_counts, word_counts, rows))
    }

    /// Estimated document counts of `keys` in the FTS5 table `index`, fresh ones from the cache,
    /// the rest counted with `query` (a key's FTS5 query) in one statement.
    async fn estimate(
        &self,
        store: &Store,
        index: &str,
        keys: &[String],
        query: impl Fn(&str) -> String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let (mut known, missing) = self.cached(keys);
        if !missing.is_empty() {
            let counted = count(store, index, &missing, query).await?;
            self.remember(&counted);
            known.extend(counted);
        }
        Ok(known)
    }

    /// The fresh estimates among `wanted`, and the trigrams still to count.
    fn cached(&self, wanted: &[String]) -> (Vec<(String, i64)>, Vec<String>) {
        let now = Instant::now();
        let estimates = self.estimates.lock().unwrap_or_else(|e| e.into_inner());
        let mut known = Vec::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for trigram in wanted {
            match estimates.get(trigram) {
                Some(e) if now.duration_since(e.at) < MAX_AGE => {
                    known.push((trigram.clone(), e.count));
                }
                _ => missing.push(trigram.clone()),
            }
        }
        (known, missing)
    }

    fn remember(&self, counted: &[(String, i64)]) {
        let now = Instant::now();
        let mut estimates = self.estimates.lock().unwrap_or_else(|e| e.into_inner());
        if estimates.len() + counted.len() > MAX_ENTRIES {
            estimates.clear();
        }
        for (trigram, docs) in counted {
            estimates.insert(
                trigram.clone(),
                Estimate {
                    count: *docs,
                    at: now,
                },
            );
        }
    }

    /// The number of users, estimated by the largest id (one index probe), kept like the counts.
    async fn rows(&self, store: &Store) -> Result<i64, StoreError> {
        let now = Instant::now();
        if let Some(e) = self.rows.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if now.duration_since(e.at) < MAX_AGE {
                return Ok(e.count);
            }
        }
        let rows = store
            .fetch_scalar_i64(&Sql::new("SELECT COALESCE(MAX(id), 0) FROM users"))
            .await?;
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = Some(Estimate {
            count: rows,
            at: now,
        });
        Ok(rows)
    }
}

/// Document counts of `keys` in the FTS5 table `index` (each key's query made by `query`), each
/// capped at `COUNT_CAP`, in one statement.
async fn count(
    store: &Store,
    index: &str,
    keys: &[String],
    query: impl Fn(&str) -> String,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut sql = Sql::default();
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push("SELECT ")
            .bind(i as i64)
            .push(" AS idx, (SELECT COUNT(*) FROM (SELECT 1 FROM ")
            .push(index)
            .push(" WHERE ")
            .push(index)
            .push(" MATCH ")
            .bind(query(key))
            .push(" LIMIT ")
            .bind(COUNT_CAP)
            .push(")) AS docs");
    }
    let rows: Vec<CountRow> = store.fetch_all(&sql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let key = keys.get(usize::try_from(r.idx).ok()?)?;
            Some((key.clone(), r.docs))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(t, n)| ((*t).to_string(), *n)).collect()
    }

    #[test]
    fn trigrams_are_distinct_and_in_order() {
        assert_eq!(trigrams("-0500001"), ["-05", "050", "500", "000", "001"]);
        assert_eq!(trigrams("ab"), Vec::<String>::new());
        assert_eq!(trigrams("a\0bc"), Vec::<String>::new());
        assert_eq!(trigrams("äöüß"), ["äöü", "öüß"]);
    }

    #[test]
    fn long_terms_are_sampled_evenly() {
        let term: String = ('a'..='z').chain('A'..='Z').collect();
        let chosen = trigrams(&term);
        assert_eq!(chosen.len(), MAX_CONSIDERED);
        assert_eq!(chosen.first().map(String::as_str), Some("abc"));
        assert_eq!(chosen.last().map(String::as_str), Some("XYZ"));
    }

    #[test]
    fn the_rarest_trigrams_are_chosen_and_common_ones_left_out() {
        let lookup = choose(
            counts(&[
                ("ben", 65_536),
                ("-05", 65_536),
                ("050", 18_700),
                ("500", 8_800),
                ("000", 17_000),
                ("001", 18_600),
            ]),
            1_000_000,
        );
        assert_eq!(
            lookup,
            CandidateSource::Trigrams(vec!["500".into(), "000".into(), "001".into(), "050".into()])
        );
    }

    #[test]
    fn short_lists_are_all_taken_up_to_the_limit() {
        let lookup = choose(
            counts(&[("abc", 3), ("bcd", 900), ("cde", 2_000), ("def", 5_000)]),
            10_000,
        );
        assert_eq!(
            lookup,
            CandidateSource::Trigrams(vec!["abc".into(), "bcd".into(), "cde".into()])
        );
    }

    #[test]
    fn an_absent_trigram_alone_decides() {
        let lookup = choose(counts(&[("abc", 40_000), ("zzz", 0)]), 1_000_000);
        assert_eq!(lookup, CandidateSource::Trigrams(vec!["zzz".into()]));
    }

    #[test]
    fn terms_made_of_common_trigrams_scan() {
        assert_eq!(
            choose(counts(&[("use", 65_536), ("ser", 65_536)]), 200_000),
            CandidateSource::Scan
        );
        // In a table much larger than the cap, a capped trigram may still be selective.
        assert!(matches!(
            choose(counts(&[("use", 65_536)]), 10_000_000),
            CandidateSource::Trigrams(_)
        ));
        assert_eq!(choose(Vec::new(), 10), CandidateSource::Scan);
    }

    #[test]
    fn word_starts_follow_ascii_separators() {
        assert_eq!(word_starts("-0500001"), ["0500001"]);
        assert_eq!(word_starts("bench-user-0500001"), ["user", "0500001"]);
        assert_eq!(word_starts("smith@corp.example"), ["corp", "example"]);
        // The first run may be the middle of a word; short runs find too much.
        assert_eq!(word_starts("alice"), Vec::<String>::new());
        assert_eq!(word_starts("a-bc-def"), ["def"]);
        // Only ASCII letters and digits belong to the run; non-ASCII ends it.
        assert_eq!(word_starts("x.abcé"), ["abc"]);
        assert_eq!(word_starts("é.abc"), ["abc"]);
        assert_eq!(word_starts("\0abc"), Vec::<String>::new());
    }

    #[test]
    fn a_word_start_is_used_when_rarer_than_every_trigram() {
        let trigrams = counts(&[("-05", 65_536), ("500", 8_800), ("001", 18_600)]);
        assert_eq!(
            choose_with_words(trigrams.clone(), counts(&[("0500001", 1)]), 1_000_000),
            CandidateSource::WordStart("0500001".into())
        );
        assert_eq!(
            choose_with_words(trigrams, counts(&[("user", 65_536)]), 1_000_000),
            CandidateSource::Trigrams(vec!["500".into(), "001".into()])
        );
        assert_eq!(CandidateSource::prefix_query("a\"b"), "\"a\"\"b\"*");
    }

    #[test]
    fn match_queries_quote_every_trigram() {
        assert_eq!(
            CandidateSource::match_query(&["a\"b".into(), "xyz".into()]),
            "\"a\"\"b\" AND \"xyz\""
        );
    }
}
