"""The secured mode of the local platform: certificates, credentials, listeners, client settings.

With ``STOCKSIGNAL_LOCAL_SECURITY=on``, deploy/local/platformctl.py starts Kafka with two more
listeners beside the plain one, and Redis with TLS and an ACL user:

- ``SASL_SSL`` (``STOCKSIGNAL_LOCAL_KAFKA_SASL_SSL_PORT``): TLS, then SASL PLAIN, SCRAM-SHA-256
  or SCRAM-SHA-512 as user ``stocksignal``; the SCRAM credentials are written at format time.
- ``MTLS`` (``STOCKSIGNAL_LOCAL_KAFKA_MTLS_PORT``): TLS with ``ssl.client.auth=required``: only a
  client certificate signed by the local CA gets in.
- ``OAUTHBEARER`` on the SASL_SSL listener too: the broker checks RS256 tokens against a JWKS
  file; ``oidc_token_endpoint.py`` (the ``oidc`` service, ``STOCKSIGNAL_LOCAL_OIDC_PORT``) hands
  them out for OIDC client credentials, as an identity provider would.
- Redis on ``STOCKSIGNAL_LOCAL_REDIS_TLS_PORT`` with TLS and required client certificates; the
  plain port stays, but the ``default`` user is off, so every connection logs in as
  ``stocksignal``.

Everything is generated once with the ``openssl`` command under ``<local dir>/security/``: a CA,
a server certificate for 127.0.0.1 and localhost, a client certificate whose key is encrypted
(so the key-password settings are exercised), and random passwords, and the OAuth signing key with its JWKS. ``platformctl.py env
--profile sasl-ssl|mtls|oauth`` prints the stocksignal settings that connect with them (the names are
in docs/operations.md's configuration reference). Standard library only, as platformctl.py.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "stocksignal"
# Long enough that nothing here expires during a developer's lifetime of a checkout.
DAYS = 3650
PROFILES = ("plain", "sasl-ssl", "mtls", "oauth")
OAUTH_KEY_ID = "stocksignal-local"
OAUTH_ISSUER = "stocksignal-local-oidc"
OAUTH_AUDIENCE = "stocksignal-local-kafka"
# The extensions a TLS server and client certificate need; the SAN is what hostname
# verification (on by default in stocksignal) checks against the bootstrap address.
LEAF_EXTENSIONS = """\
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage={usage}
subjectAltName={san}
"""


class SecurityError(Exception):
    """Generating the material failed; the message says what to do."""


@dataclass(frozen=True)
class Material:
    """The files of ``<local dir>/security``: where each piece is."""

    dir: Path

    def __getattr__(self, name: str) -> Path:
        if name not in FILES:  # dunder lookups (copy, pickle) must not become paths
            raise AttributeError(name)
        return self.dir / FILES[name]

    def secret(self, name: str) -> str:
        return getattr(self, name).read_text().strip()


FILES = {
    "ca_cert": "ca.pem",
    "ca_key": "ca.key",
    "server_cert": "server.pem",
    "server_key": "server.key",  # unencrypted: Redis reads it without a password
    "kafka_keystore": "kafka-keystore.pem",  # encrypted key + certificate: Kafka's PEM keystore needs a password
    "keystore_password": "kafka-keystore.password",
    "client_cert": "client.pem",
    "client_key": "client.key",  # encrypted PKCS#8
    "client_key_password": "client-key.password",
    "kafka_password": "kafka-client.password",
    "redis_password": "redis-client.password",
    "oauth_key": "oauth-signing.key",  # signs the token endpoint's JWTs
    "jwks": "jwks.json",  # its public half, for the broker
    "oauth_client_secret": "oauth-client.secret",
}


# --- generating ------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if not openssl:
        raise SecurityError(
            "`openssl` is not on PATH: install it (Debian: apt-get install openssl)"
        )
    result = subprocess.run(
        [openssl, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise SecurityError(f"openssl {args[0]} failed: {result.stderr.strip()[-800:]}")


def _leaf(work: Path, name: str, subject: str, usage: str, san: str) -> None:
    """A key and a certificate signed by the CA in ``work``: name.key (plain) and name.pem."""
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        subject,
        cwd=work,
    )
    (work / f"{name}.ext").write_text(LEAF_EXTENSIONS.format(usage=usage, san=san))
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        str(secrets.randbits(63)),
        "-days",
        str(DAYS),
        "-sha256",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.pem",
        cwd=work,
    )


def _encrypt_key(
    work: Path, source: str, target: str, password_file: str, scheme: list[str]
) -> None:
    """An encrypted PKCS#8 key. ``scheme``: JAVA_PBE for Kafka's PEM keystore (Java 17 cannot
    decrypt PBES2 there: SecretKeyFactory has no "PBES2"), CLIENT_PBE for OpenSSL readers."""
    _openssl(
        "pkcs8",
        "-topk8",
        *scheme,
        "-in",
        source,
        "-out",
        target,
        "-passout",
        f"file:{password_file}",
        cwd=work,
    )


JAVA_PBE = ["-v1", "PBE-SHA1-3DES"]
CLIENT_PBE = ["-v2", "aes-256-cbc"]


def _write_secret(path: Path) -> None:
    # URL-safe characters only: the value goes into a JAAS line and a Redis ACL rule unquoted.
    path.write_text(secrets.token_urlsafe(24) + "\n")


def _jwks(work: Path) -> None:
    """The signing key's public half as a JSON Web Key Set (RFC 7517), without a JOSE library."""
    modulus = (
        subprocess.run(
            ["openssl", "rsa", "-in", FILES["oauth_key"], "-noout", "-modulus"],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .split("=", 1)[1]
    )

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    key = {
        "kty": "RSA",
        "kid": OAUTH_KEY_ID,
        "use": "sig",
        "alg": "RS256",
        "n": b64url(bytes.fromhex(modulus)),
        "e": b64url((65537).to_bytes(3, "big")),
    }
    (work / FILES["jwks"]).write_text(json.dumps({"keys": [key]}, indent=2) + "\n")


def _generate(work: Path) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        str(DAYS),
        "-sha256",
        "-subj",
        "/CN=stocksignal local CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=work,
    )
    for name in (
        "keystore_password",
        "client_key_password",
        "kafka_password",
        "redis_password",
        "oauth_client_secret",
    ):
        _write_secret(work / FILES[name])
    _openssl("genrsa", "-out", FILES["oauth_key"], "2048", cwd=work)
    _jwks(work)
    _leaf(work, "server", "/CN=localhost", "serverAuth", "DNS:localhost,IP:127.0.0.1")
    _encrypt_key(work, "server.key", "server.p8", FILES["keystore_password"], JAVA_PBE)
    (work / FILES["kafka_keystore"]).write_text(
        (work / "server.p8").read_text() + (work / "server.pem").read_text()
    )
    _leaf(work, "client", f"/CN={USER}", "clientAuth", f"DNS:{USER}")
    _encrypt_key(work, "client.key", "client.p8", FILES["client_key_password"], CLIENT_PBE)
    (work / "client.p8").replace(work / FILES["client_key"])
    for leftover in ("server.csr", "server.ext", "server.p8", "client.csr", "client.ext"):
        (work / leftover).unlink(missing_ok=True)


def ensure_material(root: Path) -> Material:
    """The security material under ``root/security``, generated when any piece is missing.

    Generated in a sibling folder and renamed into place, so a failed run never leaves half a
    set (a CA that signed nothing, a keystore without its password) behind.
    """
    material = Material(root / "security")
    if all((material.dir / name).is_file() for name in FILES.values()):
        return material
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="security.", dir=root))
    try:
        os.chmod(work, 0o700)
        _generate(work)
        shutil.rmtree(material.dir, ignore_errors=True)
        work.rename(material.dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # stderr: `eval "$(platformctl.py env ...)"` reads stdout.
    print(
        f"security: generated a local CA, certificates and passwords in {material.dir}",
        file=sys.stderr,
    )
    return material


# --- Kafka -----------------------------------------------------------------------------------

# Appended to the broker's properties in the secured mode. Inter-broker and controller traffic
# stay on the plain listeners: one node, loopback only.
KAFKA_SECURITY_PROPERTIES = """\
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.key.password={keystore_password}
ssl.truststore.type=PEM
ssl.truststore.location={ca}
listener.name.mtls.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_{user}="{password}";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url={jwks_url}
sasl.oauthbearer.expected.audience={audience}
sasl.oauthbearer.expected.issuer={issuer}
"""


def kafka_listeners(
    host: str, plain: int, controller: int, sasl_ssl: int | None, mtls: int | None
) -> dict[str, str]:
    """listeners, advertised.listeners and listener.security.protocol.map for the template."""
    listeners = [f"PLAINTEXT://{host}:{plain}"]
    protocols = ["PLAINTEXT:PLAINTEXT"]
    if sasl_ssl is not None and mtls is not None:
        listeners += [f"SASL_SSL://{host}:{sasl_ssl}", f"MTLS://{host}:{mtls}"]
        protocols += ["SASL_SSL:SASL_SSL", "MTLS:SSL"]
    listeners.append(f"CONTROLLER://{host}:{controller}")
    protocols.append("CONTROLLER:PLAINTEXT")
    joined = ",".join(listeners)
    return {
        "listeners": joined,
        "advertised_listeners": joined,
        "protocol_map": ",".join(protocols),
    }


def kafka_security_properties(material: Material) -> str:
    return KAFKA_SECURITY_PROPERTIES.format(
        keystore=material.kafka_keystore,
        keystore_password=material.secret("keystore_password"),
        ca=material.ca_cert,
        user=USER,
        password=material.secret("kafka_password"),
        jwks_url=material.jwks.as_uri(),
        audience=OAUTH_AUDIENCE,
        issuer=OAUTH_ISSUER,
    )


def kafka_jvm_options(material: Material) -> list[str]:
    """Kafka 4 reads OAuth URLs and files only when a system property allows them."""
    return [
        f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={material.jwks.as_uri()}",
        f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.files={material.jwks}",
    ]


def oidc_argv(material: Material, python: str, port: int) -> list[str]:
    """The token endpoint's command line (the ``oidc`` service)."""
    script = Path(__file__).resolve().parent / "oidc_token_endpoint.py"
    return [python, str(script), "--port", str(port), "--security-dir", str(material.dir)]


def scram_format_args(material: Material) -> list[str]:
    """kafka-storage's --add-scram: the SCRAM user exists from the cluster's first record."""
    password = material.secret("kafka_password")
    return [
        arg
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
        for arg in ("--add-scram", f"{mechanism}=[name={USER},password={password}]")
    ]


# --- Redis -----------------------------------------------------------------------------------


def redis_config(material: Material, tls_port: int) -> str:
    """A redis.conf fragment (a file, so the password is not on the command line)."""
    return "\n".join(
        [
            "# Written by deploy/local/platformctl.py (secured mode) on every start.",
            f"tls-port {tls_port}",
            f"tls-cert-file {material.server_cert}",
            f"tls-key-file {material.server_key}",
            f"tls-ca-cert-file {material.ca_cert}",
            "tls-auth-clients yes",
            # No anonymous access on either port: every client logs in as the ACL user.
            "user default off",
            f"user {USER} on >{material.secret('redis_password')} ~* &* +@all",
            "",
        ]
    )


# --- client settings -------------------------------------------------------------------------


def _redis_settings(
    material: Material, host: str, plain: int, tls: int, tls_wanted: bool
) -> list[tuple[str, str]]:
    common = [
        ("STOCKSIGNAL_REDIS_USERNAME", USER),
        ("STOCKSIGNAL_REDIS_PASSWORD_FILE", str(material.redis_password)),
    ]
    if not tls_wanted:
        return [("REDIS_URL", f"redis://{host}:{plain}/0"), *common]
    return [
        ("REDIS_URL", f"rediss://{host}:{tls}/0"),
        *common,
        ("STOCKSIGNAL_REDIS_SSL_CA_LOCATION", str(material.ca_cert)),
        ("STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION", str(material.client_cert)),
        ("STOCKSIGNAL_REDIS_SSL_KEY_LOCATION", str(material.client_key)),
        ("STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD_FILE", str(material.client_key_password)),
    ]


def _kafka_settings(
    material: Material, profile: str, host: str, ports: dict[str, int]
) -> list[tuple[str, str]]:
    if profile == "plain":
        return [("KAFKA_BOOTSTRAP_SERVERS", f"{host}:{ports['plain']}")]
    tls = [("STOCKSIGNAL_KAFKA_SSL_CA_LOCATION", str(material.ca_cert))]
    if profile == "oauth":
        return [
            ("KAFKA_BOOTSTRAP_SERVERS", f"{host}:{ports['sasl_ssl']}"),
            ("STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("STOCKSIGNAL_KAFKA_SASL_MECHANISM", "OAUTHBEARER"),
            ("STOCKSIGNAL_KAFKA_OAUTH_TOKEN_ENDPOINT_URL", f"http://{host}:{ports['oidc']}/token"),
            ("STOCKSIGNAL_KAFKA_OAUTH_CLIENT_ID", USER),
            ("STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET_FILE", str(material.oauth_client_secret)),
            ("STOCKSIGNAL_KAFKA_OAUTH_SCOPE", "kafka"),
            *tls,
        ]
    if profile == "sasl-ssl":
        return [
            ("KAFKA_BOOTSTRAP_SERVERS", f"{host}:{ports['sasl_ssl']}"),
            ("STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("STOCKSIGNAL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("STOCKSIGNAL_KAFKA_SASL_USERNAME", USER),
            ("STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE", str(material.kafka_password)),
            *tls,
        ]
    return [
        ("KAFKA_BOOTSTRAP_SERVERS", f"{host}:{ports['mtls']}"),
        ("STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL", "SSL"),
        *tls,
        ("STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION", str(material.client_cert)),
        ("STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION", str(material.client_key)),
        ("STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD_FILE", str(material.client_key_password)),
    ]


def profile_settings(
    material: Material, profile: str, host: str, ports: dict[str, int]
) -> list[tuple[str, str]]:
    """The stocksignal settings of one way in: ``plain``, ``sasl-ssl``, ``mtls`` or ``oauth``.

    ``ports``: plain, sasl_ssl, mtls, redis, redis_tls, oidc. The secured profiles use Redis over TLS
    with a client certificate; ``plain`` uses the plain Redis port, still with the ACL user.
    """
    redis = _redis_settings(material, host, ports["redis"], ports["redis_tls"], profile != "plain")
    return _kafka_settings(material, profile, host, ports) + redis
