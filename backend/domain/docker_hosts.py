"""Docker endpoints as the operator gives them, and what is shown of them: never their TLS key or certificates."""
from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from backend.domain.base import Strict
from hive_core.config import Identifier

SCHEMES = ("unix", "tcp", "ssh")


def check_url(url: str) -> str:
    """A Docker endpoint URL the SDK can use: unix:///path, tcp://host:port or ssh://[user@]host[:port]."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or "://" not in url:
        hint = " (a TLS engine is tcp://, with its CA, cert and key)" if parts.scheme in ("http", "https") else ""
        raise ValueError(f"{url!r} is not a Docker endpoint: it must start with unix://, tcp:// or ssh://{hint}, "
                         "e.g. tcp://10.0.0.5:2376 or ssh://deploy@10.0.0.5")
    if parts.scheme == "unix":
        if not parts.path.startswith("/") or parts.netloc:
            raise ValueError(f"{url!r}: a unix socket URL names an absolute path, e.g. unix:///var/run/docker.sock")
        return url
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{url!r}: the host is missing, e.g. {parts.scheme}://10.0.0.5"
                         f"{':2376' if parts.scheme == 'tcp' else ''}")
    if parts.scheme == "tcp" and port is None:
        raise ValueError(f"{url!r}: a tcp:// endpoint needs its port (2376 is Docker's TLS port), "
                         f"e.g. tcp://{parts.hostname}:2376")
    if port == 0:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: only {parts.scheme}://host:port is used; remove what follows it")
    if parts.scheme == "tcp" and parts.username:
        raise ValueError(f"{url!r}: a tcp:// endpoint takes no user; the client certificate says who connects")
    return url


DockerUrl = Annotated[str, AfterValidator(check_url)]


class DockerHostCreate(Strict):
    name: Identifier = Field(description="what instances and the create form name it by")
    url: DockerUrl = Field(description="unix:///path/docker.sock, tcp://host:2376 (TLS), or ssh://[user@]host[:port]")
    ca: SecretStr | None = Field(None, description="tcp:// only: the CA certificate (PEM) that signed the engine's")
    cert: SecretStr | None = Field(None, description="tcp:// only: the client certificate (PEM) the engine trusts")
    key: SecretStr | None = Field(None, description="tcp:// only: the client certificate's private key (PEM); "
                                                    "stored encrypted, never shown again")
    broker_host: str | None = Field(None, min_length=1, max_length=255,
                                    description="the broker's address as instances on this host reach it; the "
                                                "backend's own broker address when absent")

    @model_validator(mode="after")
    def _tls_for_tcp_only(self) -> DockerHostCreate:
        given = [part for part in ("ca", "cert", "key") if getattr(self, part) is not None]
        if self.url.startswith("tcp://"):
            missing = [part for part in ("ca", "cert", "key") if part not in given]
            if missing:
                raise ValueError(f"a tcp:// host needs TLS: give {', '.join(missing)} (PEM), as made for dockerd's "
                                 "--tlsverify; an engine open on tcp:// without TLS gives root on its machine to "
                                 "anyone who reaches the port")
            check_tls(self.ca_pem(), self.cert_pem(), self.key_pem())
        elif given:
            secured_by = "ssh" if self.url.startswith("ssh://") else "the socket file's mode"
            raise ValueError(f"{', '.join(given)}: only a tcp:// host uses TLS material; "
                             f"{self.url.split('://')[0]}:// is secured by {secured_by}")
        return self

    def ca_pem(self) -> str:
        return self.ca.get_secret_value() if self.ca else ""

    def cert_pem(self) -> str:
        return self.cert.get_secret_value() if self.cert else ""

    def key_pem(self) -> str:
        return self.key.get_secret_value() if self.key else ""


def check_tls(ca: str, cert: str, key: str) -> None:
    """The three PEM texts are what they say, and the key is the client certificate's; never quotes them."""
    try:
        x509.load_pem_x509_certificate(ca.encode())
    except ValueError:
        raise ValueError("ca: not a PEM certificate (-----BEGIN CERTIFICATE-----, e.g. the ca.pem of "
                         "dockerd's --tlscacert)") from None
    try:
        client = x509.load_pem_x509_certificate(cert.encode())
    except ValueError:
        raise ValueError("cert: not a PEM certificate (-----BEGIN CERTIFICATE-----, the client's cert.pem)") from None
    try:
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("key: not an unencrypted PEM private key (-----BEGIN ... PRIVATE KEY-----, the client's "
                         "key.pem; remove a passphrase with `openssl pkey -in key.pem -out key.pem`)") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (private.public_key().public_bytes(serialization.Encoding.DER, public)
            != client.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise ValueError("key: it is not the private key of cert; give the key.pem made with that certificate")


class HostHealth(BaseModel):
    status: Literal["ok", "unreachable", "unknown"] = Field(description="unknown until the first check")
    checked_at: float | None = Field(None, description="when it was last checked (epoch seconds)")
    latency_ms: float | None = Field(None, description="how long the ping took")
    version: str | None = Field(None, description="the engine's version, e.g. 20.10.24")
    api_version: str | None = None
    containers: int | None = Field(None, description="this backend's containers on it")
    running: int | None = Field(None, description="of those, the running ones")
    error: str | None = Field(None, description="why it is unreachable, in words")


class DockerHostOut(BaseModel):
    name: str
    url: str
    tls: bool = Field(description="whether TLS material is stored (it is never shown)")
    broker_host: str | None = Field(description="the broker's address as its instances reach it; null: the "
                                                "backend's own broker address")
    removable: bool = Field(description="false for local, which comes from the settings")
    created_at: float | None = Field(None, description="when it was added; null for local")
    note: str | None = Field(None, description="advice about its settings, e.g. a remote host without broker_host")
    health: HostHealth
