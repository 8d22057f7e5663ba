"""Verifies session JWTs with PyJWT, independently of the Rust verifier.

Reads {"jwks": <public JWKS>, "issuer": "...", "tokens": [{"token": "...", "alg": "..."}]}
on standard input; for each token, finds the key its `kid` names in the set, verifies the
signature with the expected algorithm and checks exp, nbf, iat and iss (all required), then
prints one JSON line: {"alg": ..., "kid": ..., "claims": {...}}. Any failure raises.
"""

import json
import sys

import jwt

request = json.load(sys.stdin)
keys = jwt.PyJWKSet.from_dict(request["jwks"])
for item in request["tokens"]:
    token, alg = item["token"], item["alg"]
    header = jwt.get_unverified_header(token)
    if header["alg"] != alg:
        raise SystemExit(f"expected alg {alg}, got {header['alg']}")
    key = keys[header["kid"]]
    claims = jwt.decode(
        token,
        key=key,
        algorithms=[alg],
        issuer=request["issuer"],
        options={"require": ["exp", "nbf", "iat", "iss", "sub", "sid", "jti"]},
    )
    print(json.dumps({"alg": header["alg"], "kid": header["kid"], "claims": claims}))
