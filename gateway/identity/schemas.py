from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.identity.enums import Role

# The most common passwords in Chinese leaks and in general, lower-cased and without separators.
COMMON = frozenset(
    {
        "123456789012", "1234567890ab", "qwertyuiop12", "password1234", "abc123456789",
        "1q2w3e4r5t6y", "woaini123456", "aaaaaaaaaaaa", "111111111111", "admin1234567",
        "passw0rd1234", "zxcvbnm12345", "iloveyou1234", "1qaz2wsx3edc", "qazwsxedcrfv",
    }
)  # fmt: skip


def password_problem(password: str, username: str) -> str | None:
    """Why the password is too weak, or None."""
    folded = "".join(ch for ch in password.lower() if ch.isalnum())
    if folded in COMMON or len(set(password)) < 5:
        return "too common or too repetitive"
    if username.lower() in password.lower():
        return "must not contain the username"
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < 16 and classes < 3:
        return "use three of lower case, upper case, digits and symbols, or 16+ characters"
    return None


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str | None = Field(
        default=None,
        description="single use; each refresh returns a new one (none for client credentials)",
    )
    scope: str | None = Field(
        default=None,
        description="client credentials: the scopes the token carries, space-separated",
    )


class Me(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{3,64}$")
    ]
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    password: Annotated[str, StringConstraints(min_length=12, max_length=256)] = Field(
        description="12+ characters mixing three of: lower case, upper case, digits, symbols; "
        "or a passphrase of 16+ characters. Not a common password, not the username."
    )
    roles: list[Role] = Field(min_length=1)

    @model_validator(mode="after")
    def strong_password(self) -> UserCreate:
        problem = password_problem(self.password, self.username)
        if problem:
            raise ValueError(f"password: {problem}")
        return self
