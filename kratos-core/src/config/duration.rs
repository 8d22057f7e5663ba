//! Durations as Kratos writes them in its configuration (`1h`, `30m`, `500ms`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration written as Kratos writes them: `1h`, `30m`, `1h30m`, `10s`, `500ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KratosDuration(pub Duration);

impl KratosDuration {
    /// Parses a non-negative duration in Kratos's (Go's) grammar: `1h30m`, `15m`, `10.5s`,
    /// `250ms`, `10us`; see [`crate::duration`].
    ///
    /// # Errors
    /// A message saying what is wrong (the grammar, the unit, a value past about 292 years,
    /// or a negative value); never panics.
    pub fn parse(s: &str) -> Result<Self, String> {
        crate::duration::parse_std(s)
            .map(KratosDuration)
            .map_err(|e| format!("the duration is {e}"))
    }

    /// As a chrono duration.
    pub fn as_chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl Serialize for KratosDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", self.0.as_secs_f64()))
    }
}

impl<'de> Deserialize<'de> for KratosDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KratosDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One hour, the default lifespan of flows, codes and links.
pub(super) fn one_hour() -> KratosDuration {
    KratosDuration(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kratos() {
        assert_eq!(
            KratosDuration::parse("1h").unwrap().0,
            Duration::from_secs(3600)
        );
        assert_eq!(
            KratosDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(
            KratosDuration::parse("500ms").unwrap().0,
            Duration::from_millis(500)
        );
        assert!(KratosDuration::parse("5").is_err());
        assert!(KratosDuration::parse("5y").is_err());
    }
}
