//! Durations in the grammar Kratos reads them with (Go's `time.ParseDuration`).
//!
//! A duration is an optional sign followed by one or more decimal numbers, each with an
//! optional fraction and a unit: `1h30m`, `-1.5h`, `300ms`, `2h45m10.5s`, `10µs`. Units are
//! `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m` and `h`; a lone `0` needs no unit. The value must
//! fit in a signed 64-bit count of nanoseconds (about 292 years), as in Go.
//!
//! Written by hand rather than taken from a crate: the crates that parse Go durations either
//! allocate per component, accept a different grammar (`humantime` takes `1 hour`, not `-1h`)
//! or saturate instead of refusing. Every step here is checked, so no input can overflow or
//! panic; the fuzz target `duration` exercises it.
//!
//! ```
//! use kratos_core::duration::parse_nanos;
//!
//! assert_eq!(parse_nanos("1h30m"), Ok(5_400_000_000_000));
//! assert_eq!(parse_nanos("-1.5s"), Ok(-1_500_000_000));
//! assert!(parse_nanos("99999999999999999999h").is_err());
//! ```

use std::fmt;

/// Why a duration did not parse. The input itself is never repeated in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not in the grammar: empty, a number without digits, a stray character.
    Invalid,
    /// A number without a unit (only a lone `0` may have none).
    MissingUnit,
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    UnknownUnit,
    /// The value does not fit in a signed 64-bit count of nanoseconds (about 292 years).
    Overflow,
    /// A negative value where only non-negative durations make sense.
    Negative,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "not a duration such as 1h30m, 15m or 500ms",
            Self::MissingUnit => "a number without a unit (ns, us, ms, s, m, h)",
            Self::UnknownUnit => "an unknown unit (use ns, us, ms, s, m or h)",
            Self::Overflow => "too large: durations are limited to about 292 years",
            Self::Negative => "negative, where a duration must be zero or more",
        })
    }
}

impl std::error::Error for DurationError {}

const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses a duration into signed nanoseconds, exactly as Go's `time.ParseDuration`.
///
/// # Errors
/// [`DurationError::Invalid`], [`MissingUnit`](DurationError::MissingUnit),
/// [`UnknownUnit`](DurationError::UnknownUnit) or [`Overflow`](DurationError::Overflow); never
/// panics.
pub fn parse_nanos(input: &str) -> Result<i64, DurationError> {
    let mut s = input.as_bytes();
    let mut negative = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        negative = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(DurationError::Invalid);
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(DurationError::Invalid);
        }
        // The integer part: digits, refusing what does not fit.
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut whole: u64 = 0;
        for &d in &s[..int_len] {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .filter(|&v| v <= LIMIT)
                .ok_or(DurationError::Overflow)?;
        }
        s = &s[int_len..];
        // The fraction: digits past what fits in the accumulator are read and ignored.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            frac_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflowed = false;
            for &d in &s[..frac_len] {
                if overflowed {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    .filter(|&v| v <= LIMIT)
                {
                    Some(v) => {
                        frac = v;
                        scale *= 10.0;
                    }
                    None => overflowed = true,
                }
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(DurationError::Invalid);
        }
        let unit_len = s
            .iter()
            .take_while(|&&c| c != b'.' && !c.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit);
        }
        let unit = std::str::from_utf8(&s[..unit_len])
            .ok()
            .and_then(unit_nanos)
            .ok_or(DurationError::UnknownUnit)?;
        s = &s[unit_len..];
        let mut v = whole
            .checked_mul(unit)
            .filter(|&v| v <= LIMIT)
            .ok_or(DurationError::Overflow)?;
        if frac > 0 {
            // As Go: the fraction is scaled in floating point, then truncated.
            let extra = (frac as f64) * (unit as f64 / scale);
            if !extra.is_finite() || extra >= LIMIT as f64 {
                return Err(DurationError::Overflow);
            }
            v = v
                .checked_add(extra as u64)
                .filter(|&v| v <= LIMIT)
                .ok_or(DurationError::Overflow)?;
        }
        total = total
            .checked_add(v)
            .filter(|&t| t <= LIMIT)
            .ok_or(DurationError::Overflow)?;
    }
    if negative {
        // -2^63 is representable; `total` is at most 2^63 here.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| DurationError::Overflow)
    }
}

/// Parses a duration that must not be negative, as a [`std::time::Duration`].
///
/// # Errors
/// Those of [`parse_nanos`], and [`DurationError::Negative`] for a value below zero.
pub fn parse_std(input: &str) -> Result<std::time::Duration, DurationError> {
    let nanos = parse_nanos(input)?;
    u64::try_from(nanos)
        .map(std::time::Duration::from_nanos)
        .map_err(|_| DurationError::Negative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_go_grammar() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("5s", 5_000_000_000),
            ("30s", 30_000_000_000),
            ("1478s", 1_478_000_000_000),
            ("-5s", -5_000_000_000),
            ("+5s", 5_000_000_000),
            ("5.0s", 5_000_000_000),
            ("5.6s", 5_600_000_000),
            ("5.s", 5_000_000_000),
            (".5s", 500_000_000),
            ("1.0s", 1_000_000_000),
            ("1.004s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12\u{b5}s", 12_000),
            ("12\u{3bc}s", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14_000_000_000),
            ("15m", 900_000_000_000),
            ("16h", 57_600_000_000_000),
            ("3h30m", 12_600_000_000_000),
            ("10.5s4m", 250_500_000_000),
            ("-2m3.4s", -123_400_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 360_000_000_000),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ];
        for (input, want) in cases {
            assert_eq!(parse_nanos(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        let cases: &[(&str, DurationError)] = &[
            ("", DurationError::Invalid),
            ("3", DurationError::MissingUnit),
            ("-", DurationError::Invalid),
            ("s", DurationError::Invalid),
            (".", DurationError::Invalid),
            ("-.", DurationError::Invalid),
            (".s", DurationError::Invalid),
            ("+.s", DurationError::Invalid),
            ("1d", DurationError::UnknownUnit),
            ("1h ", DurationError::UnknownUnit),
            (" 1h", DurationError::Invalid),
            ("\u{b5}s", DurationError::Invalid),
            ("9223372036854775808ns", DurationError::Overflow),
            ("9223372036854775.808us", DurationError::Overflow),
            ("-9223372036854775809ns", DurationError::Overflow),
            ("99999999999999999999h", DurationError::Overflow),
            ("2562048h", DurationError::Overflow),
            (
                "1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h2562047h",
                DurationError::Overflow,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_nanos(input), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn non_negative_durations() {
        assert_eq!(parse_std("1h"), Ok(std::time::Duration::from_secs(3600)));
        assert_eq!(parse_std("-1ns"), Err(DurationError::Negative));
        assert_eq!(
            parse_std("2562047h47m16.854775807s"),
            Ok(std::time::Duration::from_nanos(i64::MAX as u64))
        );
    }
}
