//! The `totp` second factor (time-based one-time passwords, RFC 6238), as Kratos offers it:
//! an authenticator app holds a 160-bit secret shared through an `otpauth://totp/…` URL (shown
//! as a QR code and as text), and a login at aal2 submits the app's 6-digit code.
//!
//! [`otp`] holds the building blocks: keys, their URL and QR code, and the verification of
//! codes with the step they matched (so a caller can refuse a replay through
//! [`crate::store::UsedSecretStore`]).

pub mod otp;
