"""The Credentials section of the instances page: venue credentials saved once, never shown again.

The table shows what the backend answers (the API key's last 4 characters at most); the secret inputs are
password fields and are emptied once the backend has the credential.
"""
from __future__ import annotations

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session, tables

PREFIX = "credentials"
SECRET_KEYS = ("credentials_api_key", "credentials_secret", "credentials_passphrase")


def _delete(client: HiveClient, name: str) -> None:
    errors.run_action(PREFIX, f"delete the credential {name}", client.delete_credential, name,
                      notice=f"Deleted the credential {name}")


def _rotate(client: HiveClient) -> None:
    rotated = errors.run_action(PREFIX, "rotate the credentials key", client.rotate_credentials_key)
    if rotated is not None:
        st.session_state["credentials_rotated"] = rotated


@st.fragment
def credentials_section(client: HiveClient) -> None:
    session.empty_if_asked(PREFIX, ["credentials_name", *SECRET_KEYS])
    with st.expander("Credentials", icon=":material/key:"):
        st.caption("Exchange API keys, encrypted at rest and handed to an instance's process only while it runs. "
                   "Once saved they are never shown again.")
        errors.show_feedback(PREFIX)
        rotated = st.session_state.get("credentials_rotated")
        if rotated:
            st.info(rotated["message"] + (f"\n\nNew key: `{rotated['new_key']}`" if rotated.get("new_key") else ""))
        stored = errors.attempt("list the credentials", client.list_credentials)
        if stored is None:
            return
        tables.show_table(tables.credentials_frame(stored), "No credentials yet.", key="credentials_table")
        if stored:
            actions = st.container(horizontal=True)
            chosen = actions.selectbox("Stored credential", [item["name"] for item in stored],
                                       key="credentials_selected", label_visibility="collapsed")
            actions.button("Delete", key="credentials_delete", on_click=_delete, args=(client, chosen))
            actions.button("Rotate key", key="credentials_rotate", on_click=_rotate, args=(client,),
                           help="encrypt every credential again with a new key")

        st.markdown("**Add a credential**")
        name_col, venue_col = st.columns(2)
        name = name_col.text_input("Credential name", key="credentials_name", placeholder="binance_main")
        venue = venue_col.text_input("Venue", key="credentials_venue", placeholder="binance_testnet",
                                     help="where it is a key: binance, binance_testnet, or a ccxt exchange's id "
                                          "(kraken; kraken_testnet for its test network); a live instance takes "
                                          "only a credential of its own venue")
        api_key = st.text_input("API key", key="credentials_api_key", type="password")
        secret = st.text_input("Secret", key="credentials_secret", type="password",
                               help="an HMAC secret key, or an Ed25519 private key in PEM (Binance: its connection "
                                    "then logs on once, and orders go unsigned, faster)")
        passphrase = st.text_input("Passphrase (optional)", key="credentials_passphrase", type="password")
        if not st.button("Save credential", key="credentials_submit"):
            return
        saved = errors.attempt(f"save the credential {name.strip() or '(no name)'}", client.create_credential,
                               name.strip(), venue.strip(), api_key, secret, passphrase or None)
        if saved is None:
            return
        st.session_state[f"{PREFIX}_notice"] = f"Saved the credential {saved['name']} (API key {saved['api_key_hint']})"
        st.session_state["credentials_rotated"] = None
        session.empty_on_next_run(PREFIX)
        st.rerun(scope="app")  # the create form lists it too
