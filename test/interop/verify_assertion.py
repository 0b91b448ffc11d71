"""How an upstream verifies authgate's identity assertion with PyJWT (the independent
implementation of the interop tests): keys from authgate's JWKS by `kid`, the algorithm pinned,
`iss` and `aud` required, `exp` enforced. Usage: verify_assertion.py JWKS_URL AUDIENCE ISSUER ALG
with the assertion on stdin; prints the claims as JSON, or `invalid: <reason>` and exits 1."""
import json
import sys

import jwt

jwks_url, audience, issuer, algorithm = sys.argv[1:5]
token = sys.stdin.read().strip()
try:
    key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[algorithm],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
except jwt.PyJWTError as err:
    print(f"invalid: {type(err).__name__}")
    sys.exit(1)
print(json.dumps({"header": jwt.get_unverified_header(token), "claims": claims}))
