//! The error type of this crate.

use crate::HashFormat;

/// Why hashing, verification or import validation failed.
///
/// No variant ever carries a password, a salt, a derived key or any other
/// secret part of a hash: only format names, parameter names and numbers,
/// and fixed descriptions.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The string does not start with the prefix of any supported format.
    #[error("unknown password hash format")]
    UnknownFormat,

    /// The string has a known prefix but cannot be decoded (missing or extra
    /// sections, bad base64, non-numeric parameters, impossible lengths).
    #[error("malformed {format} hash: {reason}")]
    Malformed {
        /// Format the hash was detected as.
        format: HashFormat,
        /// Fixed description of the problem; never contains hash material.
        reason: String,
    },

    /// A cost parameter is outside the accepted range. The lower end of the
    /// range is 1 for every parameter except the bcrypt cost (4); `max` is
    /// the upper end. These bounds keep an imported hash from exhausting
    /// memory or CPU when it is verified.
    #[error("{format} parameter {parameter}={value} is out of bounds (max {max})")]
    OutOfBounds {
        /// Format the hash was detected as.
        format: HashFormat,
        /// Name of the parameter as written in the hash (`m`, `t`, `cost`, ...).
        parameter: &'static str,
        /// Value found in the hash (saturated at `u64::MAX`).
        value: u64,
        /// Largest accepted value.
        max: u64,
    },

    /// The password is longer than the algorithm can take (bcrypt: 72 bytes).
    #[error("password is longer than {max_bytes} bytes")]
    PasswordTooLong {
        /// Largest accepted password length in bytes.
        max_bytes: usize,
    },

    /// The hashing configuration given to [`crate::Hasher::new`] is invalid.
    #[error("invalid hashing parameters: {0}")]
    InvalidParameters(String),

    /// The operating system's random number generator failed.
    #[error("random number generator unavailable")]
    Rng,
}

impl HashError {
    pub(crate) fn malformed(format: HashFormat, reason: &str) -> Self {
        HashError::Malformed {
            format,
            reason: reason.to_owned(),
        }
    }
}
