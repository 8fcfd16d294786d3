"""Account addresses follow the one address rule of buyers (services.validate.normal_email)."""

from __future__ import annotations

import pytest

from hub.services.errors import Invalid
from hub.services.users import authenticate, create_user


@pytest.mark.parametrize(
    "email",
    [
        "a@b",
        "ada@example.org\r\nBcc: x@example.org",
        "ada@example.org, bob@example.org",
        "Ada <ada@example.org>",
        "a" * 65 + "@example.org",
        "@example.org",
    ],
)
def test_an_account_needs_one_mailable_address(engine, email):
    with engine.connect() as conn:
        with pytest.raises(Invalid) as refused:
            create_user(conn, email, "correct horse", "organizer")
    assert refused.value.code == "invalid_email"


def test_an_account_address_is_compared_lower_case(engine):
    with engine.connect() as conn:
        user = create_user(conn, "  Ada@Example.ORG ", "correct horse", "organizer")
        assert user["email"] == "ada@example.org"
        assert authenticate(conn, "ADA@example.org", "correct horse")["id"] == user["id"]
