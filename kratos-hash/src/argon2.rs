//! Argon2id and Argon2i: `$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<salt>$<key>`.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::encoding::{B64_RAW_STRICT, check_bounds, ct_eq, decode, parse_decimal, parse_params};
use crate::{Argon2Params, HashError, HashFormat};

/// Largest accepted memory cost: 1 GiB.
pub const MAX_MEMORY_KIB: u64 = 1 << 20;
/// Largest accepted iteration count.
pub const MAX_ITERATIONS: u64 = 10;
/// Largest accepted degree of parallelism.
pub const MAX_PARALLELISM: u64 = 16;
/// Shortest salt the argon2 implementation accepts.
pub const MIN_SALT_LEN: usize = argon2::MIN_SALT_LEN;
/// Shortest derived key the argon2 implementation accepts.
pub const MIN_KEY_LEN: usize = Params::MIN_OUTPUT_LEN;

/// A decoded Argon2 hash. No `Debug`: it holds the salt and the key.
pub(crate) struct Argon2Hash {
    pub(crate) format: HashFormat,
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) key: Zeroizing<Vec<u8>>,
}

fn algorithm(format: HashFormat) -> Algorithm {
    if format == HashFormat::Argon2i {
        Algorithm::Argon2i
    } else {
        Algorithm::Argon2id
    }
}

pub(crate) fn parse(hash: &str, format: HashFormat) -> Result<Argon2Hash, HashError> {
    let parts: Vec<&str> = hash.split('$').collect();
    let [_, _, version, params, salt, key] = parts[..] else {
        return Err(HashError::malformed(
            format,
            "expected $<variant>$v=<version>$m=<m>,t=<t>,p=<p>$<salt>$<key>",
        ));
    };
    let version = version
        .strip_prefix("v=")
        .and_then(parse_decimal)
        .ok_or_else(|| HashError::malformed(format, "version is not v=<number>"))?;
    if version != 19 {
        return Err(HashError::malformed(
            format,
            "unsupported version (only v=19 is supported)",
        ));
    }
    let [m, t, p] = parse_params(params, ["m", "t", "p"], format)?;
    check_bounds(format, "m", m, MAX_MEMORY_KIB)?;
    check_bounds(format, "t", t, MAX_ITERATIONS)?;
    check_bounds(format, "p", p, MAX_PARALLELISM)?;
    if m < 8 * p {
        return Err(HashError::malformed(format, "m must be at least 8 * p"));
    }
    let salt = decode(&B64_RAW_STRICT, salt, format, "salt")?;
    if salt.len() < MIN_SALT_LEN {
        return Err(HashError::malformed(format, "salt is shorter than 8 bytes"));
    }
    let key = Zeroizing::new(decode(&B64_RAW_STRICT, key, format, "key")?);
    if key.len() < MIN_KEY_LEN {
        return Err(HashError::malformed(format, "key is shorter than 4 bytes"));
    }
    // The bounds above make these conversions lossless.
    Ok(Argon2Hash {
        format,
        memory_kib: m as u32,
        iterations: t as u32,
        parallelism: p as u32,
        salt,
        key,
    })
}

fn derive(
    format: HashFormat,
    m: u32,
    t: u32,
    p: u32,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let params = Params::new(m, t, p, Some(out.len()))
        .map_err(|e| HashError::InvalidParameters(format!("argon2: {e}")))?;
    let argon2 = Argon2::new(algorithm(format), Version::V0x13, params);
    working_memory::with_blocks(argon2.params().block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
    .map_err(|e| HashError::InvalidParameters(format!("argon2: {e}")))
}

/// Argon2's working memory, kept between hashes.
///
/// Each hash needs `m` KiB of blocks (19 MiB by default). A fresh allocation that large is
/// mapped anew by the allocator and costs a page fault per 4 KiB page plus zeroing, which on a
/// worker thread added a fifth to every verification. Buffers up to [`MAX_POOLED_BLOCKS`] are
/// therefore kept in a small pool (one per core) and handed to the next hash, which overwrites
/// every block before reading it. A buffer that does not go back to the pool is wiped before
/// it is freed; pooled buffers hold only the blocks of the last hash, never a password.
mod working_memory {
    use std::sync::Mutex;

    use argon2::Block;

    /// The largest buffer the pool keeps: 64 MiB of 1 KiB blocks.
    pub(super) const MAX_POOLED_BLOCKS: usize = 64 * 1024;

    static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

    fn capacity() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// Runs `f` with `count` blocks of working memory.
    pub(super) fn with_blocks<R>(count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let pooled = count <= MAX_POOLED_BLOCKS;
        let mut buffer = if pooled {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.pop().unwrap_or_default()
        } else {
            Vec::new()
        };
        if buffer.len() < count {
            buffer.resize(count, Block::new());
        }
        let result = f(&mut buffer[..count]);
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pooled && pool.len() < capacity() {
            pool.push(buffer);
        } else {
            drop(pool);
            buffer.fill(Block::new());
            drop(std::hint::black_box(buffer));
        }
        result
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reused_memory_gives_the_same_keys() {
            let key = |password: &[u8]| {
                let mut out = [0u8; 32];
                super::super::derive(
                    crate::HashFormat::Argon2id,
                    64,
                    1,
                    1,
                    password,
                    b"saltsaltsalt",
                    &mut out,
                )
                .unwrap();
                out
            };
            // The second and third runs get the pool's dirty buffer.
            let first = key(b"one password");
            assert_ne!(key(b"another password"), first);
            assert_eq!(key(b"one password"), first);
        }

        #[test]
        fn large_buffers_are_not_kept() {
            with_blocks(MAX_POOLED_BLOCKS + 1, |b| {
                assert_eq!(b.len(), MAX_POOLED_BLOCKS + 1)
            });
            assert!(
                POOL.lock()
                    .unwrap()
                    .iter()
                    .all(|b| b.len() <= MAX_POOLED_BLOCKS)
            );
        }
    }
}

impl Argon2Hash {
    pub(crate) fn verify(&self, password: &[u8]) -> Result<bool, HashError> {
        let mut out = Zeroizing::new(vec![0u8; self.key.len()]);
        derive(
            self.format,
            self.memory_kib,
            self.iterations,
            self.parallelism,
            password,
            &self.salt,
            &mut out,
        )?;
        Ok(ct_eq(&out, &self.key))
    }

    /// Whether this hash was made with exactly `params` (and Argon2id).
    pub(crate) fn matches(&self, params: &Argon2Params) -> bool {
        self.format == HashFormat::Argon2id
            && self.memory_kib == params.memory_kib
            && self.iterations == params.iterations
            && self.parallelism == params.parallelism
            && self.salt.len() as u64 == u64::from(params.salt_length)
            && self.key.len() as u64 == u64::from(params.key_length)
    }
}

/// Checks a configuration for [`crate::Hasher`]: it must produce hashes that
/// [`parse`] accepts.
pub(crate) fn validate_config(p: &Argon2Params) -> Result<(), HashError> {
    let fail = |what: String| Err(HashError::InvalidParameters(format!("argon2id: {what}")));
    if p.memory_kib == 0 || u64::from(p.memory_kib) > MAX_MEMORY_KIB {
        return fail(format!("memory_kib must be in 1..={MAX_MEMORY_KIB}"));
    }
    if p.iterations == 0 || u64::from(p.iterations) > MAX_ITERATIONS {
        return fail(format!("iterations must be in 1..={MAX_ITERATIONS}"));
    }
    if p.parallelism == 0 || u64::from(p.parallelism) > MAX_PARALLELISM {
        return fail(format!("parallelism must be in 1..={MAX_PARALLELISM}"));
    }
    if u64::from(p.memory_kib) < 8 * u64::from(p.parallelism) {
        return fail("memory_kib must be at least 8 * parallelism".to_owned());
    }
    if !(MIN_SALT_LEN as u32..=1024).contains(&p.salt_length) {
        return fail(format!("salt_length must be in {MIN_SALT_LEN}..=1024"));
    }
    if !(16..=1024).contains(&p.key_length) {
        return fail("key_length must be in 16..=1024".to_owned());
    }
    Ok(())
}

/// Hashes `password` with a fresh random salt, in the Kratos string format.
pub(crate) fn hash(p: &Argon2Params, password: &[u8]) -> Result<String, HashError> {
    let mut salt = vec![0u8; p.salt_length as usize];
    getrandom::fill(&mut salt).map_err(|_| HashError::Rng)?;
    let mut key = Zeroizing::new(vec![0u8; p.key_length as usize]);
    derive(
        HashFormat::Argon2id,
        p.memory_kib,
        p.iterations,
        p.parallelism,
        password,
        &salt,
        &mut key,
    )?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        p.memory_kib,
        p.iterations,
        p.parallelism,
        B64_RAW_STRICT.encode(&salt),
        B64_RAW_STRICT.encode(&*key)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Argon2Params {
        Argon2Params {
            memory_kib: 32,
            iterations: 1,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }

    #[test]
    fn config_bounds() {
        assert!(validate_config(&Argon2Params::default()).is_ok());
        assert!(validate_config(&small()).is_ok());
        let max = Argon2Params {
            memory_kib: 1 << 20,
            iterations: 10,
            parallelism: 16,
            salt_length: 1024,
            key_length: 1024,
        };
        assert!(validate_config(&max).is_ok());
        for bad in [
            Argon2Params {
                memory_kib: (1 << 20) + 1,
                ..small()
            },
            Argon2Params {
                memory_kib: 7,
                ..small()
            },
            Argon2Params {
                iterations: 11,
                ..small()
            },
            Argon2Params {
                parallelism: 5,
                ..small()
            },
            Argon2Params {
                salt_length: 1025,
                ..small()
            },
            Argon2Params {
                key_length: 1025,
                ..small()
            },
        ] {
            assert!(validate_config(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hash_parses_back_with_its_params() {
        let p = small();
        let h = hash(&p, b"pw").unwrap();
        let parsed = parse(&h, HashFormat::Argon2id).unwrap();
        assert!(parsed.matches(&p));
        assert!(parsed.verify(b"pw").unwrap());
        assert!(!parsed.verify(b"pw ").unwrap());
        assert!(!parsed.matches(&Argon2Params {
            key_length: 16,
            ..p.clone()
        }));
        // Parsed as argon2i, the same string never matches the argon2id config.
        let as_i = h.replacen("$argon2id$", "$argon2i$", 1);
        let parsed_i = parse(&as_i, HashFormat::Argon2i).unwrap();
        assert!(!parsed_i.matches(&p));
        assert!(!parsed_i.verify(b"pw").unwrap());
    }

    #[test]
    fn memory_not_a_multiple_of_lanes_is_accepted() {
        // argon2-cffi: hash_secret(b"password123", b"saltsalt", time_cost=1,
        // memory_cost=70, parallelism=2, hash_len=16, type=Type.ID)
        let h = "$argon2id$v=19$m=70,t=1,p=2$c2FsdHNhbHQ$IqN4XpRybMfHEiqzhsKUjQ";
        assert!(
            parse(h, HashFormat::Argon2id)
                .unwrap()
                .verify(b"password123")
                .unwrap()
        );
    }
}
