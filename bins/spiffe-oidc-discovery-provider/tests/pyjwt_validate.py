"""Validates a JWT-SVID the way an OIDC relying party does, with PyJWT (a library nobody here
wrote): read the discovery document, follow its jwks_uri with PyJWKClient, pick the key by the
token's kid, check signature, audience and issuer. Prints the token's subject.

usage: pyjwt_validate.py <discovery-url> <token> <audience>
"""
import json
import sys
import urllib.request

import jwt

discovery_url, token, audience = sys.argv[1:4]
with urllib.request.urlopen(discovery_url, timeout=10) as response:
    discovery = json.load(response)
client = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False, timeout=10)
signing_key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    signing_key.key,
    algorithms=discovery["id_token_signing_alg_values_supported"],
    audience=audience,
    issuer=discovery["issuer"],
)
print(claims["sub"])
