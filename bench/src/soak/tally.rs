//! The verdict of one engine's soak: the ledger of requests against the
//! sessions read back at the end.
//!
//! - lost: a 2xx request whose `r<id>` is in no session, plus increments a
//!   session's `n` is short of its ids (the counter went back);
//! - double-applied: `n` above the number of distinct ids in its session, plus
//!   an id found in more than one session;
//! - applied although failed: an id present whose request got a non-2xx
//!   (`applied_5xx`), or no answer: a timeout or a broken connection
//!   (`applied_unanswered`). Allowed (the client was told the outcome is
//!   unknown, or told nothing), but counted.
//!
//! On a store that keeps nothing across a restart (memcached), a 2xx answered
//! before the last kill of the server and missing afterwards is counted apart,
//! as lost to the restart, not as a lost update.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::load::{End, Final, Outcome};

#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub ok: u64,
    /// Non-2xx answers by status, and the ones with no answer.
    pub statuses: BTreeMap<u16, u64>,
    pub timeouts: u64,
    pub broken: u64,
    pub sessions: usize,
    pub final_count: u64,
    pub lost: u64,
    pub lost_to_restart: u64,
    pub double: u64,
    pub applied_5xx: u64,
    pub applied_unanswered: u64,
}

/// `volatile_until`: the end of the last kill of a store that loses its data
/// when killed.
pub fn tally(outcomes: &[Outcome], finals: &[Final], volatile_until: Option<Instant>) -> Tally {
    let mut t = Tally {
        sessions: finals.len(),
        ..Tally::default()
    };
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for f in finals {
        t.final_count += f.n;
        let mut ids = f.ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let distinct = ids.len() as u64;
        if f.n > distinct {
            t.double += f.n - distinct;
        } else {
            t.lost += distinct - f.n;
        }
        for id in ids {
            *seen.entry(id).or_default() += 1;
        }
    }
    t.double += seen.values().map(|c| c - 1).sum::<u64>();
    for o in outcomes {
        t.requests += 1;
        let applied = seen.contains_key(&o.id);
        let answered = matches!(o.result, End::Status(_));
        match o.result {
            r if r.ok() => {
                t.ok += 1;
                if !applied {
                    match volatile_until {
                        Some(kill) if o.done <= kill => t.lost_to_restart += 1,
                        _ => t.lost += 1,
                    }
                }
                continue;
            }
            End::Status(s) => *t.statuses.entry(s).or_default() += 1,
            End::Timeout => t.timeouts += 1,
            End::Broken => t.broken += 1,
        }
        match (applied, answered) {
            (true, true) => t.applied_5xx += 1,
            (true, false) => t.applied_unanswered += 1,
            (false, _) => {}
        }
    }
    t
}

/// Milliseconds from `at` to the first 2xx of a request sent at or after it;
/// `None` when none came.
pub fn recovery_ms(outcomes: &[Outcome], at: Instant) -> Option<u64> {
    outcomes
        .iter()
        .filter(|o| o.result.ok() && o.sent >= at)
        .map(|o| o.done)
        .min()
        .map(|d| d.duration_since(at).as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn out(id: u64, result: End, at: Instant) -> Outcome {
        Outcome {
            id,
            sent: at,
            done: at + Duration::from_millis(1),
            result,
        }
    }

    #[test]
    fn a_2xx_missing_is_lost_and_a_count_above_the_ids_is_double() {
        let t0 = Instant::now();
        let outcomes = [
            out(1, End::Status(200), t0),
            out(2, End::Status(200), t0),
            out(3, End::Status(503), t0),
            out(4, End::Timeout, t0),
        ];
        // 2 is gone, 3 was applied although it failed, 1 counted twice.
        let finals = [Final {
            n: 3,
            ids: vec![1, 3],
        }];
        let t = tally(&outcomes, &finals, None);
        assert_eq!((t.requests, t.ok, t.lost, t.double), (4, 2, 1, 1));
        assert_eq!((t.applied_5xx, t.applied_unanswered), (1, 0));
        assert_eq!((t.timeouts, t.statuses[&503]), (1, 1));
    }

    #[test]
    fn an_id_in_two_sessions_is_double_and_volatile_losses_count_apart() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let outcomes = [out(1, End::Status(200), t0), out(2, End::Status(200), t0)];
        let finals = [Final { n: 1, ids: vec![1] }, Final { n: 1, ids: vec![1] }];
        let t = tally(&outcomes, &finals, Some(later));
        assert_eq!((t.double, t.lost, t.lost_to_restart), (1, 0, 1));
        let t = tally(&outcomes, &finals, Some(t0));
        assert_eq!(t.lost, 1);
    }
}
