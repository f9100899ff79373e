"""Bearer tokens: HS256 and RS256, roles, and what a missing or bad token gets."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from streamstats.settings import Settings, SettingsError
from streamstats.web.auth import Authenticator, AuthError, Identity, mint_token

SECRET = "s" * 32


def test_an_hs256_token_names_the_agent_and_its_role() -> None:
    token = mint_token("a-1", "supervisor", secret=SECRET)
    identity = Authenticator.from_settings(SECRET, "").identify(token)
    assert identity == Identity("a-1", "supervisor")


def test_an_rs256_token_is_checked_with_the_public_key(tmp_path: object) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    token = mint_token("a-2", "agent", private_key=private)
    assert Authenticator("RS256", public).identify(token) == Identity("a-2", "agent")


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "not-a-token",
        mint_token("a-1", "agent", secret="x" * 32),
        mint_token("a-1", "agent", secret=SECRET, ttl_seconds=-10),
        jwt.encode({"sub": "a-1", "role": "boss"}, SECRET, algorithm="HS256"),
        jwt.encode({"role": "agent"}, SECRET, algorithm="HS256"),
    ],
)
def test_a_missing_or_bad_token_is_a_401(token: str | None) -> None:
    with pytest.raises(AuthError) as refused:
        Authenticator("HS256", SECRET).identify(token)
    assert refused.value.status == 401
    assert refused.value.message


def test_an_agent_sees_only_itself_and_a_supervisor_everyone() -> None:
    assert Identity("a-1", "agent").may_see("a-1")
    assert not Identity("a-1", "agent").may_see("a-2")
    assert Identity("boss", "supervisor").may_see("a-2")


def test_access_control_cannot_be_on_without_a_key() -> None:
    with pytest.raises(SettingsError, match="STREAMSTATS_AUTH=off"):
        Settings.from_env({})
    assert Settings.from_env({"STREAMSTATS_AUTH": "off"}).auth == "off"
    assert Settings.from_env({"STREAMSTATS_JWT_SECRET": SECRET}).auth == "on"
