//! Group commit: requests that arrive while a D1 write is in flight share the next one.
//!
//! Each D1 round trip costs far more than the statements in it (measured: ~1.6 ms of the
//! runtime's only thread, see `shared/handbook/measured-ceilings.md` §3), so one statement list
//! per request caps ingestion at a few hundred requests per second. Here a request that finds no
//! write in flight leads: it sends its statements at once. Requests arriving meanwhile queue
//! theirs; when the leader's round trip ends it settles its group and hands the lead to the
//! oldest waiter, who sends everything queued so far as one `batch` (one transaction). Nobody
//! is answered before the round trip holding its statements has committed, so an acknowledged
//! event is stored; nothing waits for a timer, so an idle collector adds no latency.
//!
//! Failure isolation: when a shared round trip fails, each request's statements are retried on
//! their own, so one bad request cannot fail its neighbours.
//!
//! Waiters are never woken from another request: each polls its own ticket on a short timer of
//! its own. (Resolving their promises from the leader's request was tried first: several Rust
//! tasks woken in one turn of the event loop are polled together by wasm-bindgen-futures' single
//! queue, in whichever request's context came first, and workerd then refuses their I/O —
//! "Cannot perform I/O on behalf of a different request" — or cancels them as hung. Seen under
//! `cargo xtask bench collector`.) So every request's I/O, including the round trips it leads,
//! runs in its own context. If a lead is handed to a request that was cancelled meanwhile, the
//! queue would stall: a living request (waiting or newly arrived) that finds the lead silent for
//! longer than `STALE_LEAD_MS` takes it over itself.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::js_sys::Date;
use worker::{D1Database, D1PreparedStatement, D1Result, Delay, Error, Result};

/// A lead with no progress for this long is presumed lost (its request was cancelled).
const STALE_LEAD_MS: f64 = 2_000.0;
/// How often a waiting request looks at its ticket (a D1 round trip takes a few ms).
const POLL: Duration = Duration::from_millis(2);

/// Where one request stands.
enum Turn {
    /// Queued behind the round trip in flight.
    Waiting,
    /// Handed the lead: send everything queued.
    Lead,
    /// Its statements ran: their results, or the error to answer with.
    Done(std::result::Result<Vec<D1Result>, String>),
}

/// One request's statements and where it stands.
struct Ticket {
    statements: Vec<D1PreparedStatement>,
    turn: Rc<RefCell<Turn>>,
}

/// The requests waiting for the next round trip, and the lead's state.
#[derive(Default)]
struct Queue {
    waiting: Vec<Ticket>,
    /// When the current lead last made progress; `None` when no write is in flight.
    lead_since_ms: Option<f64>,
    /// Bumped on each take-over, so a lead presumed lost stops handing over when it resumes.
    generation: u64,
}

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Runs `statements` as one transaction, together with those of concurrent requests, and
/// returns this request's results in order.
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<Vec<D1Result>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let turn = Rc::new(RefCell::new(Turn::Waiting));
    QUEUE.with(|q| {
        q.borrow_mut().waiting.push(Ticket {
            statements,
            turn: turn.clone(),
        })
    });
    loop {
        if matches!(*turn.borrow(), Turn::Done(_)) {
            break;
        }
        match take_lead(&turn) {
            Some((group, generation)) => run_round(db, group, generation).await,
            None => Delay::from(POLL).await,
        }
    }
    match turn.replace(Turn::Waiting) {
        Turn::Done(Ok(results)) => Ok(results),
        Turn::Done(Err(reason)) => Err(Error::RustError(reason)),
        _ => unreachable!("the loop ends on Done"),
    }
}

/// The queued tickets to send, if this request leads now: it was handed the lead, or no write is
/// in flight, or the lead has been silent longer than `STALE_LEAD_MS` (its request was cancelled:
/// this request, which is alive, takes over, with the lost lead's waiters).
fn take_lead(turn: &RefCell<Turn>) -> Option<(Vec<Ticket>, u64)> {
    let now = Date::now();
    QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        let handed = matches!(*turn.borrow(), Turn::Lead);
        let free = q
            .lead_since_ms
            .is_none_or(|since| now - since > STALE_LEAD_MS);
        if q.waiting.is_empty() || !(handed || free) {
            return None;
        }
        if !handed {
            q.generation += 1;
        }
        q.lead_since_ms = Some(now);
        Some((std::mem::take(&mut q.waiting), q.generation))
    })
}

/// Sends one group's statements, settles every ticket in it, and passes the lead on.
async fn run_round(db: &D1Database, group: Vec<Ticket>, generation: u64) {
    let sizes: Vec<usize> = group.iter().map(|t| t.statements.len()).collect();
    let all: Vec<D1PreparedStatement> = group
        .iter()
        .flat_map(|t| t.statements.iter().cloned())
        .collect();
    match db.batch(all).await {
        Ok(results) => {
            let mut results = results.into_iter();
            for (ticket, size) in group.iter().zip(sizes) {
                let own: Vec<D1Result> = results.by_ref().take(size).collect();
                settle(ticket, Ok(own));
            }
        }
        Err(e) if group.len() == 1 => settle(&group[0], Err(e.to_string())),
        Err(_) => {
            // Someone's statements failed the shared transaction: run each request alone.
            for ticket in &group {
                let alone = db.batch(ticket.statements.clone()).await;
                settle(ticket, alone.map_err(|e| e.to_string()));
            }
        }
    }
    hand_over(generation);
}

/// Records a ticket's outcome; its request sees it on its next look.
fn settle(ticket: &Ticket, outcome: std::result::Result<Vec<D1Result>, String>) {
    *ticket.turn.borrow_mut() = Turn::Done(outcome);
}

/// Gives the lead to the oldest waiter, or marks the queue idle.
fn hand_over(generation: u64) {
    QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        if q.generation != generation {
            return; // the lead was taken over while this round was in flight
        }
        if q.waiting.is_empty() {
            q.lead_since_ms = None;
            return;
        }
        q.lead_since_ms = Some(Date::now());
        *q.waiting[0].turn.borrow_mut() = Turn::Lead;
    });
}
