//! Limits on the numbers config and scenario files may hold, checked while the file is read so
//! that the error names its line (`file:line:column`).
//!
//! Every duration and count that the engine multiplies, adds to an `Instant` or loops over goes
//! through one of these: an absurd value is a typo to report, never an overflow panic mid-run.

use serde::de::{Deserialize, Deserializer, Error};

/// 30 days: longer than any game day, far below anything that could overflow a timer even
/// after multiplying by [`MAX_COUNT`].
pub const MAX_SECONDS: u64 = 30 * 24 * 3600;

/// Pods, nodes, kills, runs and iterations a file may ask for.
pub const MAX_COUNT: u64 = 100_000;

fn check(value: u64, max: u64, what: &str) -> Result<u64, String> {
    if value > max {
        Err(format!("{what} {value} is out of range: at most {max}"))
    } else {
        Ok(value)
    }
}

/// A number of seconds, at most [`MAX_SECONDS`].
pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    check(u64::deserialize(d)?, MAX_SECONDS, "duration (seconds)").map_err(D::Error::custom)
}

pub fn seconds_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)?
        .map(|v| check(v, MAX_SECONDS, "duration (seconds)"))
        .transpose()
        .map_err(D::Error::custom)
}

/// A count, at most [`MAX_COUNT`].
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let value = check(u64::deserialize(d)?, MAX_COUNT, "count").map_err(D::Error::custom)?;
    usize::try_from(value).map_err(D::Error::custom)
}

pub fn count_u64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)?
        .map(|v| check(v, MAX_COUNT, "count"))
        .transpose()
        .map_err(D::Error::custom)
}

/// Checks a value that was read in a looser form (e.g. Krkn's `''`-or-number fields).
pub fn check_count(value: u64) -> Result<usize, String> {
    check(value, MAX_COUNT, "count").and_then(|v| usize::try_from(v).map_err(|e| e.to_string()))
}

/// Checks a duration that was parsed from text such as `30s` or `2m`.
pub fn check_seconds(value: u64) -> Result<u64, String> {
    check(value, MAX_SECONDS, "duration (seconds)")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Spec {
        #[serde(deserialize_with = "super::seconds")]
        duration: u64,
        #[serde(default, deserialize_with = "super::count")]
        kill: usize,
    }

    #[test]
    fn out_of_range_numbers_are_errors_with_their_line() {
        let ok: Spec = serde_saphyr::from_str("duration: 30\nkill: 2\n").unwrap();
        assert_eq!((ok.duration, ok.kill), (30, 2));
        let err = serde_saphyr::from_str::<Spec>("kill: 1\nduration: 18446744073709551615\n")
            .unwrap_err();
        let e = crate::config::ConfigError::yaml(std::path::Path::new("f.yaml"), &err);
        let text = e.to_string();
        assert!(text.starts_with("f.yaml:2:"), "{text}");
        assert!(text.contains("out of range: at most 2592000"), "{text}");
        let err = serde_saphyr::from_str::<Spec>("duration: 1\nkill: 1000001\n").unwrap_err();
        assert!(err.to_string().contains("count 1000001 is out of range"), "{err}");
    }
}
