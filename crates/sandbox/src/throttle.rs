//! The sandbox as a remote, busy API server: a delay on every response (`--latency 20ms±5ms`)
//! and at most N requests in flight, the rest answered 429 with `Retry-After` (`--max-inflight
//! N`), the way API Priority and Fairness sheds load. Tests and benches use them to measure what
//! an operator on another continent would see.
//!
//! Watches are not counted in flight: they are long-lived by design, and a real API server
//! accounts for them separately too.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tokio::sync::Semaphore;

use super::status::ApiError;

/// A response delay: `base` plus or minus up to `jitter`, uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub base: Duration,
    pub jitter: Duration,
}

impl Latency {
    fn sample(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.base;
        }
        let jitter = self.jitter.as_micros() as i64;
        let offset = rand::rng().random_range(-jitter..=jitter);
        let micros = (self.base.as_micros() as i64 + offset).max(0);
        Duration::from_micros(micros as u64)
    }
}

fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "us" | "µs" => Some(Duration::from_micros(n)),
        _ => None,
    }
}

impl FromStr for Latency {
    type Err = String;

    /// `20ms`, `20ms±5ms` or `20ms+-5ms`; units `us`, `ms`, `s`; at most 60 s.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || format!("latency {raw:?}: expected e.g. 20ms or 20ms±5ms (units us, ms, s)");
        let (base, jitter) = match raw.split_once('±').or_else(|| raw.split_once("+-")) {
            Some((b, j)) => {
                (parse_duration(b).ok_or_else(bad)?, parse_duration(j).ok_or_else(bad)?)
            }
            None => (parse_duration(raw).ok_or_else(bad)?, Duration::ZERO),
        };
        if base.checked_add(jitter).is_none_or(|d| d > Duration::from_secs(60)) {
            return Err(format!("latency {raw:?}: at most 60 s"));
        }
        Ok(Latency { base, jitter })
    }
}

/// What the middleware applies; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    latency: Option<Latency>,
    inflight: Option<Arc<Semaphore>>,
    shed: Arc<AtomicU64>,
}

impl Throttle {
    pub fn new(latency: Option<Latency>, max_inflight: Option<usize>) -> Throttle {
        Throttle {
            latency,
            inflight: max_inflight
                .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
            shed: Arc::default(),
        }
    }

    /// How many requests were answered 429 so far.
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    pub fn is_active(&self) -> bool {
        self.latency.is_some() || self.inflight.is_some()
    }
}

fn is_watch(request: &Request) -> bool {
    request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"))
}

/// axum middleware: holds a slot for the whole request (its delay included), or sheds it.
pub async fn throttle(State(t): State<Throttle>, request: Request, next: Next) -> Response {
    let slot = match (&t.inflight, is_watch(&request)) {
        (Some(slots), false) => match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                t.shed.fetch_add(1, Ordering::Relaxed);
                if let Some(latency) = &t.latency {
                    tokio::time::sleep(latency.sample()).await;
                }
                return ApiError::too_many_requests_retry(
                    "too many requests in flight, please try again later",
                    1,
                )
                .into_response();
            }
        },
        _ => None,
    };
    if let Some(latency) = &t.latency {
        tokio::time::sleep(latency.sample()).await;
    }
    let response = next.run(request).await;
    drop(slot);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_parses_with_and_without_jitter() {
        assert_eq!(
            "20ms".parse::<Latency>(),
            Ok(Latency { base: Duration::from_millis(20), jitter: Duration::ZERO })
        );
        let l: Latency = "20ms±5ms".parse().unwrap();
        assert_eq!((l.base, l.jitter), (Duration::from_millis(20), Duration::from_millis(5)));
        assert_eq!(
            "1s+-250ms".parse::<Latency>().map(|l| l.jitter),
            Ok(Duration::from_millis(250))
        );
        assert!("soon".parse::<Latency>().is_err());
        assert!("20".parse::<Latency>().is_err());
        assert!("90s".parse::<Latency>().is_err());
        // Past what a Duration sum holds: an error like any other value over 60 s.
        assert!("18446744073709551615s±1s".parse::<Latency>().is_err());
        for _ in 0..100 {
            let d = l.sample();
            assert!(d >= Duration::from_millis(15) && d <= Duration::from_millis(25), "{d:?}");
        }
    }
}
