//! `hashers.*`: password hashing, and the byte sizes its settings are written in.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ConfigError;

/// `hashers.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct HashersConfig {
    /// `hashers.algorithm`: `argon2` (default here) or `bcrypt`.
    pub algorithm: HasherName,
    /// `hashers.argon2`
    pub argon2: Argon2Config,
    /// `hashers.bcrypt`
    pub bcrypt: BcryptConfig,
    /// `hashers.max_concurrent` (not a Kratos key): how many password hashes and
    /// verifications run at once; the others wait for a turn. Each argon2id run holds its
    /// whole `memory` while it runs, so this bounds the memory hashing takes (a burst of 256
    /// logins does not allocate 256 buffers at once). Default: the number of cores
    /// (`std::thread::available_parallelism`). 0 is invalid.
    pub max_concurrent: Option<usize>,
}

impl Default for HashersConfig {
    fn default() -> Self {
        Self {
            algorithm: HasherName::Argon2,
            argon2: Argon2Config::default(),
            bcrypt: BcryptConfig::default(),
            max_concurrent: None,
        }
    }
}

impl HashersConfig {
    /// The hashing algorithm and parameters this configuration selects.
    pub fn algorithm(&self) -> Result<kratos_hash::HashAlgorithm, ConfigError> {
        Ok(match self.algorithm {
            HasherName::Bcrypt => kratos_hash::HashAlgorithm::Bcrypt {
                cost: self.bcrypt.cost,
            },
            HasherName::Argon2 => {
                let kib = self.argon2.memory.0 / 1024;
                let memory_kib = u32::try_from(kib).map_err(|_| {
                    ConfigError::invalid("hashers.argon2.memory", "is larger than 4 TiB")
                })?;
                kratos_hash::HashAlgorithm::Argon2id(kratos_hash::Argon2Params {
                    memory_kib,
                    iterations: self.argon2.iterations,
                    parallelism: self.argon2.parallelism,
                    salt_length: self.argon2.salt_length,
                    key_length: self.argon2.key_length,
                })
            }
        })
    }
}

/// The configurable hashers.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HasherName {
    /// Argon2id.
    Argon2,
    /// bcrypt.
    Bcrypt,
}

/// `hashers.argon2`. Defaults follow OWASP's recommendation for argon2id (19 MiB, t=2, p=1),
/// lighter than Kratos's 128 MB that makes logins slow on small machines.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Argon2Config {
    /// Memory, as bytes or a size such as `19MB` / `64MiB` (MB counts 1024², as Kratos does).
    pub memory: ByteSize,
    /// Iterations (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
    /// Salt length in bytes.
    pub salt_length: u32,
    /// Key length in bytes.
    pub key_length: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory: ByteSize(19 * 1024 * 1024),
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }
}

/// `hashers.bcrypt`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct BcryptConfig {
    /// The cost (default 12).
    pub cost: u32,
}

impl Default for BcryptConfig {
    fn default() -> Self {
        Self { cost: 12 }
    }
}

/// A byte size: an integer (bytes) or a string such as `128MB`, `19MiB`, `1GB`, `512KB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `128MB`, `19MiB`, `4096`, … (KB/MB/GB count powers of 1024).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a byte size such as 128MB"))?;
        let mul: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            other => return Err(format!("unknown byte unit `{other}`")),
        };
        n.checked_mul(mul)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(ByteSize::parse("128MB").unwrap().0, 128 << 20);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert!(ByteSize::parse("12XB").is_err());
    }
}
