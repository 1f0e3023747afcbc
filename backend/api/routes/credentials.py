"""Venue credentials: save, list, inspect, replace the secret parts, delete, rotate the key.

No answer ever holds a secret part: only the name, the venue, the times, the API key's last 4 characters,
whether a passphrase is set and which instances use the credential."""
from fastapi import APIRouter, Response

from backend.api.deps import CredentialsDep, CurrentUser
from backend.domain.credentials import CredentialCreate, CredentialOut, CredentialSecrets, KeyRotated, KeyRotation

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get("", response_model=list[CredentialOut])
def list_credentials(credentials: CredentialsDep) -> list[CredentialOut]:
    return credentials.all()


@router.post("", response_model=CredentialOut, status_code=201)
def create_credential(credentials: CredentialsDep, user: CurrentUser, spec: CredentialCreate) -> CredentialOut:
    """Encrypted at rest with the key of HIVE_CREDENTIALS_KEY, or of <data_dir>/credentials.key (made on first use)."""
    return credentials.create(spec, actor=f"user:{user}")


@router.post("/rotate-key", response_model=KeyRotated)
def rotate_key(credentials: CredentialsDep, user: CurrentUser, request: KeyRotation | None = None) -> KeyRotated:
    """Encrypt every credential again with the given key (or a generated one) in one transaction; the old key
    then decrypts none of them. A key kept in the key file is rewritten there; one from HIVE_CREDENTIALS_KEY
    must be updated by the operator (the answer says so)."""
    key = request.key.get_secret_value() if request is not None and request.key is not None else None
    return credentials.rotate_key(key, actor=f"user:{user}")


@router.get("/{name}", response_model=CredentialOut)
def get_credential(credentials: CredentialsDep, name: str) -> CredentialOut:
    return credentials.get(name)


@router.put("/{name}", response_model=CredentialOut)
def replace_credential(credentials: CredentialsDep, user: CurrentUser, name: str,
                       secrets: CredentialSecrets) -> CredentialOut:
    """Replace the API key, secret and passphrase; instances using it get the new ones at their next start."""
    return credentials.replace(name, secrets, actor=f"user:{user}")


@router.delete("/{name}", status_code=204)
def delete_credential(credentials: CredentialsDep, user: CurrentUser, name: str) -> Response:
    """Refused (409) while an instance uses it."""
    credentials.delete(name, actor=f"user:{user}")
    return Response(status_code=204)
