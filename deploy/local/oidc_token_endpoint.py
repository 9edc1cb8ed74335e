#!/usr/bin/env python3
"""A minimal OIDC token endpoint for the local platform's secured mode: client credentials only.

    python3 deploy/local/oidc_token_endpoint.py --port PORT --security-dir DIR

- ``POST /token``: HTTP basic auth with client id ``stocksignal`` and the secret in
  ``DIR/oauth-client.secret`` (what librdkafka sends with ``sasl.oauthbearer.method=oidc``),
  form ``grant_type=client_credentials``. Answers ``{"access_token": <RS256 JWT>, "token_type":
  "bearer", "expires_in": 3600}``, or 401 for any other client.
- ``GET /healthz``: 200, for platformctl.py's readiness probe.

The tokens are signed with ``DIR/oauth-signing.key`` by the ``openssl`` command; the broker
verifies them with ``DIR/jwks.json`` (platform_security.py writes both). A test fixture, not
an identity provider: loopback only, one client, no refresh tokens. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.server
import json
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs

import platform_security as security

LIFETIME_S = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def token(key: Path, subject: str, scope: str) -> str:
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": security.OAUTH_KEY_ID}
    claims = {
        "iss": security.OAUTH_ISSUER,
        "aud": security.OAUTH_AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + LIFETIME_S,
        "scope": scope,
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key)],
        input=signing_input.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return f"{signing_input}.{b64url(signature)}"


class Handler(http.server.BaseHTTPRequestHandler):
    material: security.Material

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(200, {"status": "ok"} if self.path == "/healthz" else {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        if self.path != "/token" or form.get("grant_type") != ["client_credentials"]:
            self._answer(400, {"error": "unsupported_grant_type"})
            return
        if not self._client_ok():
            self._answer(401, {"error": "invalid_client"})
            return
        scope = " ".join(form.get("scope", []))
        self._answer(
            200,
            {
                "access_token": token(self.material.oauth_key, security.USER, scope),
                "token_type": "bearer",
                "expires_in": LIFETIME_S,
            },
        )

    def _client_ok(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = (
            "Basic "
            + base64.b64encode(
                f"{security.USER}:{self.material.secret('oauth_client_secret')}".encode()
            ).decode()
        )
        return hmac.compare_digest(given.encode(), expected.encode())

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        print(f"{self.address_string()} {fmt % args}", flush=True)  # to the service's log file


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--security-dir", type=Path, required=True)
    args = parser.parse_args()
    Handler.material = security.Material(args.security_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"oidc: token endpoint on http://127.0.0.1:{args.port}/token", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
