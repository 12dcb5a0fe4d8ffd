"""Cross-checks of Harbor 1.1.2 alone: its authentication settings, which 2.x keeps in its database."""

from __future__ import annotations

from collections.abc import Iterator

from ...documents import CrossCheck, Document
from ...errors import Diagnostic
from ...loader import Located


def ldap_settings_match_auth_mode(document: Document, located: Located) -> Iterator[Diagnostic]:
    harbor = document["harbor"]
    ldap = harbor.get("ldap")
    if harbor["auth_mode"] == "ldap_auth" and ldap is None:
        yield located.diagnostic(("harbor", "auth_mode"), "is ldap_auth but harbor.ldap is missing (expected harbor.ldap with url and base_dn)")
    if ldap is not None and ("search_dn" in ldap) != ("search_password" in ldap):
        given, missing = ("search_dn", "search_password") if "search_dn" in ldap else ("search_password", "search_dn")
        yield located.diagnostic(("harbor", "ldap", given), f"is set without harbor.ldap.{missing} (expected both or neither)", of_key=True)


CROSSCHECKS: tuple[CrossCheck, ...] = (ldap_settings_match_auth_mode,)
