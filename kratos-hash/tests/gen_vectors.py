#!/usr/bin/env python3
"""Regenerates the test vectors embedded in tests/vectors.rs.

Tools: python3 hashlib (pbkdf2_hmac, scrypt, sha1/sha2/sha3, md5, hmac),
the `cryptography` package (AES-256-CTR), `pip install bcrypt argon2-cffi passlib`
(bcrypt, argon2, md4) and `openssl passwd -1/-5/-6` (crypt formats).

Usage: python3 kratos-hash/tests/gen_vectors.py
Salts are fixed so the output is reproducible, except bcrypt's, which the
bcrypt package always draws at random.
"""

import base64
import hashlib
import hmac
import subprocess

import argon2.low_level as a2
import bcrypt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from passlib.crypto._md4 import md4

PW = b"password123"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def raw(b: bytes) -> str:
    return base64.b64encode(b).decode().rstrip("=")


def openssl_passwd(flag: str, salt: str) -> str:
    out = subprocess.run(
        ["openssl", "passwd", flag, "-salt", salt, "-stdin"],
        input=PW,
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().strip()


def emit(name: str, value: str) -> None:
    print(f'const {name}: &str = "{value}";')


# crypt(3) formats, rewritten to the Kratos prefixes.
emit("MD5_CRYPT", openssl_passwd("-1", "saltsalt").replace("$1$", "$md5-crypt$", 1))
emit("MD5_CRYPT_SHORT_SALT", openssl_passwd("-1", "ab").replace("$1$", "$md5-crypt$", 1))
emit("SHA256_CRYPT", openssl_passwd("-5", "rounds=10000$saltstring").replace("$5$", "$sha256-crypt$", 1))
emit("SHA256_CRYPT_DEFAULT_ROUNDS", openssl_passwd("-5", "saltstring").replace("$5$", "$sha256-crypt$", 1))
emit("SHA512_CRYPT", openssl_passwd("-6", "rounds=1000$abc").replace("$6$", "$sha512-crypt$", 1))
emit("SHA256_CRYPT_SALT16", openssl_passwd("-5", "0123456789abcdef").replace("$5$", "$sha256-crypt$", 1))
# crypt(3) raises rounds below 1000 to 1000 and cuts salts at 8 (md5) or 16 (sha)
# characters: these print exactly SHA512_CRYPT, MD5_CRYPT and SHA256_CRYPT_SALT16.
assert openssl_passwd("-6", "rounds=10$abc") == openssl_passwd("-6", "rounds=1000$abc")
assert openssl_passwd("-1", "saltsalt1234") == openssl_passwd("-1", "saltsalt")
assert openssl_passwd("-5", "0123456789abcdefXYZ") == openssl_passwd("-5", "0123456789abcdef")
# Empty salts and an empty password (passlib, which openssl's -salt '' cannot express).
from passlib.hash import md5_crypt, sha512_crypt  # noqa: E402
emit("MD5_CRYPT_EMPTY_SALT", md5_crypt.using(salt="").hash(PW.decode()).replace("$1$", "$md5-crypt$", 1))
emit("MD5_CRYPT_EMPTY_PASSWORD", md5_crypt.using(salt="ab").hash("").replace("$1$", "$md5-crypt$", 1))
emit("SHA512_CRYPT_EMPTY_SALT", sha512_crypt.using(salt="", rounds=5000).hash(PW.decode()).replace("$6$", "$sha512-crypt$", 1))
emit("SHA512_CRYPT_DEFAULT_ROUNDS", openssl_passwd("-6", "0123456789abcdef").replace("$6$", "$sha512-crypt$", 1))

# bcrypt (cost 4 keeps the tests fast).
emit("BCRYPT_2A", bcrypt.hashpw(PW, bcrypt.gensalt(4, b"2a")).decode())
emit("BCRYPT_2B", bcrypt.hashpw(PW, bcrypt.gensalt(5, b"2b")).decode())
emit("BCRYPT_72", bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4, b"2a")).decode())

# argon2 (argon2-cffi low-level API; output is already in the Kratos format).
salt16 = b"0123456789abcdef"
emit("ARGON2ID", a2.hash_secret(PW, salt16, time_cost=2, memory_cost=64, parallelism=1, hash_len=32, type=a2.Type.ID).decode())
emit("ARGON2ID_P2", a2.hash_secret(PW, b"saltsalt", time_cost=1, memory_cost=70, parallelism=2, hash_len=16, type=a2.Type.ID).decode())
emit("ARGON2I", a2.hash_secret(PW, salt16, time_cost=3, memory_cost=32, parallelism=1, hash_len=32, type=a2.Type.I).decode())

# PBKDF2: sha224/sha384 in this format mean SHA3-224/SHA3-384; unknown names mean SHA-256.
psalt = b"pbkdf2salt"
for label, alg, dklen in [
    ("SHA1", "sha1", 20),
    ("SHA224", "sha3_224", 28),
    ("SHA256", "sha256", 32),
    ("SHA384", "sha3_384", 48),
    ("SHA512", "sha512", 64),
]:
    dk = hashlib.pbkdf2_hmac(alg, PW, psalt, 1000, dklen)
    emit(f"PBKDF2_{label}", f"$pbkdf2-{label.lower()}$i=1000,l={dklen}${raw(psalt)}${raw(dk)}")
dk = hashlib.pbkdf2_hmac("sha256", PW, psalt, 1000, 32)
emit("PBKDF2_UNKNOWN_ALG", f"$pbkdf2-sha999$i=1000,l=32${raw(psalt)}${raw(dk)}")

# scrypt: ln holds N itself.
ssalt = b"scryptsalt"
emit("SCRYPT", f"$scrypt$ln=1024,r=8,p=1${b64(ssalt)}${b64(hashlib.scrypt(PW, salt=ssalt, n=1024, r=8, p=1, dklen=32))}")
emit("SCRYPT_P2", f"$scrypt$ln=16,r=1,p=2${b64(ssalt)}${b64(hashlib.scrypt(PW, salt=ssalt, n=16, r=1, p=2, dklen=16))}")

# Firebase scrypt: key = scrypt(pw, salt || separator, 2^ln, r, p, 32); hash = AES-256-CTR(key, IV 0)(signer key).
fsalt, sep = b"firebasesalt", b"\x01\x02"
signer = bytes(range(64))
key = hashlib.scrypt(PW, salt=fsalt + sep, n=2**10, r=8, p=1, dklen=32)
enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
fhash = enc.update(signer) + enc.finalize()
emit("FIREBASE_SCRYPT", f"$firescrypt$ln=10,r=8,p=1${b64(fsalt)}${b64(fhash)}${b64(sep)}${b64(signer)}")

# {SSHA*}: base64(H(password || salt) || salt).
for label, alg in [("SSHA", "sha1"), ("SSHA256", "sha256"), ("SSHA512", "sha512")]:
    s = b"ssha-salt"
    emit(label, "{" + label + "}" + b64(hashlib.new(alg, PW + s).digest() + s))

# $sha*$pf=<template>$salt$hash
for label, alg, template in [
    ("SHA1_PF", "sha1", "{SALT}{PASSWORD}"),
    ("SHA256_PF", "sha256", "{PASSWORD}.{SALT}"),
    ("SHA512_PF", "sha512", "{SALT}${PASSWORD}${SALT}"),
]:
    s = b"shasalt"
    data = template.replace("{SALT}", s.decode()).replace("{PASSWORD}", PW.decode()).encode()
    emit(label, f"${alg}$pf={b64(template.encode())}${b64(s)}${b64(hashlib.new(alg, data).digest())}")

# $md5$ plain and with a template.
emit("MD5_PLAIN", f"$md5${b64(hashlib.md5(PW).digest())}")
s = b"md5salt"
emit("MD5_PF", f"$md5$pf={b64(b'{SALT}{PASSWORD}')}${b64(s)}${b64(hashlib.md5(s + PW).digest())}")

# $hmac-<alg>$base64(lowercase hex MAC)$base64(key); sha224/sha384 are SHA-2 here.
hkey = b"hmac-secret-key"
for alg in ["md4", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"]:
    digestmod = md4 if alg == "md4" else alg
    mac = hmac.new(hkey, PW, digestmod).hexdigest().encode()
    emit(f"HMAC_{alg.upper()}", f"$hmac-{alg}${b64(mac)}${b64(hkey)}")
