"""The Create Instance form: strategies from the library, their params built from each one's schema (or filled from a
saved template), checked field by field before anything is sent; then the new instance's start, step by step.

Once Create was tried, each field says under it what is wrong with it, and nothing is sent until all are fine;
what the user typed stays in the widgets, also when the backend refuses the spec. A success collapses the form,
puts every input back to its default and selects the new instance.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from backend.client import HiveClient
from frontend import errors, session
from frontend.format import venue_label
from frontend.schema_form import param_inputs
from pages.instances import create_checks as checks
from pages.instances.progress import show_startup, watch_startup

RUNTIMES = {"process": "process (a local subprocess)", "docker": "docker (a container)"}
TRADING = {"sim": "Simulated exchange", "paper": "Paper on a live venue", "live": "Live, with a credential"}
LIVE_VENUES = {"binance": "Binance spot", "binance_testnet": "Binance spot testnet"}
CCXT = "ccxt"
RESTART_POLICIES = {"on_failure": "on failure", "never": "never"}
PREFIX = "instances_create_"

Flag = Callable[[Any, str | None], None]  # shows a field's problem under it (once Create was tried) and counts it


def _add_strategy() -> None:
    st.session_state["instances_create_count"] += 1


def _remove_strategy() -> None:
    st.session_state["instances_create_count"] = max(1, st.session_state["instances_create_count"] - 1)


def _check() -> None:
    """Create was clicked: from this run on, each field says under it what is wrong with it."""
    st.session_state["instances_create_checked"] = True


def _clear(library: dict[str, dict]) -> None:
    """After a success, before anything is drawn: every input back to its default. A widget's value must be set,
    not deleted, for the browser to show it; inputs not drawn in this run (docker's, further strategies', the
    params, which get new keys each round) are dropped by Streamlit and come back fresh."""
    for key, value in session.DEFAULTS.items():
        if key.startswith(PREFIX) and key != "instances_create_round":
            st.session_state[key] = value
    st.session_state["instances_create_strategy_0"] = next(iter(library))
    st.session_state["instances_create_id_0"] = ""
    st.session_state["instances_create_interval_0"] = 1.0
    st.session_state["instances_create_round"] += 1


@st.cache_data(ttl=600, show_spinner=False)
def _rules(_client: HiveClient, backend_url: str) -> dict:
    """The backend's rules of a new instance (they change only with its version), read once per backend."""
    return _client.instance_rules()


def _templates_by_strategy(client: HiveClient) -> dict[str, list[str]]:
    """The saved configs' names per strategy they are for (a failure to list them leaves templates out)."""
    configs = errors.attempt("list the saved templates", client.list_configs) or []
    found: dict[str, list[str]] = {}
    for config in configs:
        strategy = str(config.get("script_file_name") or "").removesuffix(".py")
        found.setdefault(strategy, []).append(config["config_name"])
    return found


def _numeric(prop: dict) -> bool:
    """The param takes a number (`anyOf [number, null]`, pydantic's Optional, counts)."""
    kinds = [prop.get("type"), *(option.get("type") for option in prop.get("anyOf", []))]
    flat = [kind for item in kinds for kind in (item if isinstance(item, list) else [item])]
    return bool({"number", "integer"} & set(flat))


def _with_template(schema: dict, values: dict[str, Any]) -> tuple[dict, list[str]]:
    """`schema` with the template's values as its defaults, and the names filled; a value that does not fit its
    param's type (a word for a number) is left out, so the input starts at the strategy's default."""
    properties = dict(schema.get("properties") or {})
    filled = []
    for name, value in values.items():
        prop = properties.get(name)
        if prop is None:
            continue
        if _numeric(prop) and (isinstance(value, bool) or not isinstance(value, int | float)):
            continue
        properties[name] = {**prop, "default": value}
        filled.append(name)
    return {**schema, "properties": properties}, filled


def _params(client: HiveClient, index: int, strategy: dict, templates: list[str]) -> dict[str, Any]:
    name = strategy["name"]
    schema = strategy.get("params_schema") or {}
    round_ = st.session_state["instances_create_round"]
    template = ""
    if templates:
        template = st.selectbox("Parameters", ["", *templates],
                                key=f"instances_create_template_{index}_{name}_{round_}",
                                format_func=lambda item: f"from the saved template {item}" if item else
                                "the strategy's defaults",
                                help="a saved template (Strategies page) fills the params below; each stays editable")
    if template:
        config = errors.attempt(f"read the template {template}", client.get_config, template)
        if config is not None:
            schema, filled = _with_template(schema, config)
            st.caption(f"Filled from {template}: {', '.join(filled) or 'none of its values fit these params'}.")
    return param_inputs(schema, key_prefix=f"instances_create_{index}_{name}_{template}_{round_}")


def _strategy_entry(client: HiveClient, rules: checks.Rules, index: int, library: dict[str, dict],
                    templates: dict[str, list[str]], earlier: list[str], flag: Flag) -> dict[str, Any]:
    with st.container(border=True):
        pick, ident, interval = st.columns([2, 2, 1])
        name = pick.selectbox(f"Strategy {index + 1}", list(library), key=f"instances_create_strategy_{index}",
                              format_func=lambda item: f"{item} ({library[item]['kind']})")
        default_id = f"{name}-{index + 1}"
        ident_value = ident.text_input("Strategy id", key=f"instances_create_id_{index}", placeholder=default_id,
                                       help=f"unique within the instance; {default_id} when left empty")
        strategy_id = ident_value.strip() or default_id
        flag(ident, checks.strategy_id_problem(rules, strategy_id, earlier))
        seconds = interval.number_input("Tick interval (s)", min_value=0.01, value=1.0, step=0.5,
                                        key=f"instances_create_interval_{index}")
        if library[name].get("description"):
            st.caption(library[name]["description"])
        params = _params(client, index, library[name], templates.get(name, []))
    return {"id": strategy_id, "strategy": name, "params": params, "interval": seconds}


def _docker_inputs(client: HiveClient, rules: checks.Rules, flag: Flag) -> dict[str, Any] | None:
    """Host, image and limits of a docker instance; None when the hosts cannot be listed (the error is shown)."""
    hosts = errors.attempt("list the Docker hosts", client.list_hosts)
    if hosts is None:
        return None
    health = {item["name"]: item.get("health", {}) for item in hosts}
    host_col, image_col = st.columns(2)
    host = host_col.selectbox("Docker host", list(health) or ["local"], key="instances_create_host",
                              format_func=lambda item: f"{item} ({health.get(item, {}).get('status', 'unknown')})",
                              help="the Docker engine it runs on (add hosts under Docker hosts and images)")
    images = errors.attempt(f"list the images on {host}", client.list_images, host) or []
    tags = [tag for item in images for tag in item.get("tags", [])]
    if not tags:
        image_col.warning(f"{host} has no Hive instance image yet: build one under Docker hosts and images.")
    image = image_col.selectbox("Image", tags, key="instances_create_image",
                                help="the bot version it runs (images labelled as Hive instance images)")
    flag(image_col, checks.image_problem(image))
    cpus_col, memory_col, pids_col, log_col = st.columns(4)
    cpus = cpus_col.number_input("CPUs", min_value=0.0, value=0.0, step=0.25, key="instances_create_cpus",
                                 help="0: no limit; 1.5 = one and a half cores")
    memory = memory_col.number_input("Memory (MiB)", min_value=0, value=0, step=64, key="instances_create_memory",
                                     help=f"0: no limit; at least {rules.min_memory_mb}; the container is killed "
                                          "(out of memory) above it")
    flag(memory_col, checks.memory_problem(rules, int(memory)))
    pids = pids_col.number_input("Processes", min_value=0, value=0, step=16, key="instances_create_pids",
                                 help="0: no limit; processes and threads inside the container (at least "
                                      f"{rules.min_pids})")
    flag(pids_col, checks.pids_problem(rules, int(pids)))
    log_mb = log_col.number_input("Log size (MiB)", min_value=1, max_value=1024, value=10, key="instances_create_log",
                                  help="the container's log is rotated at this size (3 files kept)")
    return {"host": host, "image": image or None,
            "limits": {"cpus": cpus or None, "memory_mb": int(memory) or None, "pids": int(pids) or None,
                       "log_max_mb": int(log_mb)}}


def create_form(client: HiveClient) -> None:
    """The form, and under it the start-up of the instance it created last (until dismissed)."""
    _form(client)
    if st.session_state["instances_startup"] is not None:
        if st.session_state["instances_startup"].get("final") is None:
            watch_startup(client)
        else:
            show_startup()


@st.fragment
def _form(client: HiveClient) -> None:
    clearing = st.session_state["instances_create_clear"]
    # A new section each round (each success): a rerun that still carries the browser's "open" of the section that
    # was just collapsed (a refresh of the page's other parts, under load) cannot open the new one again.
    open_key = f"instances_create_open_{st.session_state['instances_create_round']}"
    if clearing:
        st.session_state[open_key] = False
    with st.expander("New instance", icon=":material/add:", key=open_key, on_change="rerun"):
        strategies = errors.attempt("list the strategies", client.list_strategies)
        if strategies is None:
            return
        if not strategies:
            st.warning("The strategy library is empty: upload a strategy on the Strategies page first.")
            return
        library = {item["name"]: item for item in strategies}
        if clearing:
            _clear(library)
        answer = errors.attempt("read the rules of a new instance", _rules, client, client.base_url)
        if answer is None:
            return
        rules = checks.Rules.of(answer)
        instances = errors.attempt("list the instances", client.list_instances) or []
        templates = _templates_by_strategy(client)
        problems: list[str] = []

        def flag(place: Any, problem: str | None) -> None:
            if problem is None:
                return
            problems.append(problem)
            if st.session_state["instances_create_checked"]:
                place.error(problem, icon=":material/error:")

        name_col, runtime_col, pair_col = st.columns(3)
        name = name_col.text_input("Name", key="instances_create_name", placeholder="bot1",
                                   help=f"{rules.id_rule}; also the bot's id on the wire").strip()
        flag(name_col, checks.name_problem(rules, name, {item["name"] for item in instances}))
        runtime = runtime_col.selectbox("Runtime", list(RUNTIMES), key="instances_create_runtime",
                                        format_func=RUNTIMES.__getitem__,
                                        help="process: a local subprocess on this machine; docker: a container with "
                                             "its own limits, on one of the Docker hosts")
        pairs_text = pair_col.text_input("Trading pair", key="instances_create_pair",
                                         help="BASE-QUOTE as the venue lists it; several separated by commas")
        pairs = [pair.strip().upper() for pair in pairs_text.split(",") if pair.strip()]
        flag(pair_col, checks.pairs_problem(rules, pairs))

        placement = _docker_inputs(client, rules, flag) if runtime == "docker" else {}
        if placement is None:
            return
        entries: list[dict[str, Any]] = []
        for index in range(st.session_state["instances_create_count"]):
            entries.append(_strategy_entry(client, rules, index, library, templates, [e["id"] for e in entries], flag))
        more = st.container(horizontal=True)
        more.button("Add strategy", key="instances_create_add", on_click=_add_strategy)
        more.button("Remove strategy", key="instances_create_remove", on_click=_remove_strategy,
                    disabled=len(entries) == 1)

        policy_col, retries_col = st.columns(2)
        policy = policy_col.selectbox("Restart policy", list(RESTART_POLICIES), key="instances_create_restart_policy",
                                      format_func=RESTART_POLICIES.__getitem__,
                                      help="on failure: when its process exits or is killed while it runs, start it "
                                           "again after 2 s, 4 s, 8 s... (at most 60 s); never: leave it in error")
        retries = retries_col.number_input("Max retries", min_value=0, max_value=100, step=1,
                                           key="instances_create_max_retries", disabled=policy == "never",
                                           help="restarts in a row before it is left in error; the count starts "
                                                "again after a minute running or a start by you")
        venue, credential = _venue_inputs(client, rules, flag)
        start_now = st.checkbox("Start now", key="instances_create_start")
        if problems and st.session_state["instances_create_checked"]:
            st.error(f"Not created: {len(problems)} field{'s' if len(problems) > 1 else ''} to fix, marked above.",
                     icon=":material/error:")
        spec = {
            "name": name,
            "runtime": runtime,
            "strategies": entries,
            "trading_pairs": pairs,
            "venue": venue,
            "start": start_now,
            "restart_policy": {"policy": policy, "max_retries": int(retries)},
            "credential": credential or None,
            **placement,
        }
        if st.button("Create Instance", key="instances_create_submit", type="primary", on_click=_check) \
                and not problems:
            if venue.get("mode") != "live":
                _create(client, spec)
                return
            st.session_state["instances_create_confirm"] = spec   # going live: asked once more, by name
        pending = st.session_state["instances_create_confirm"]
        if pending is not None:
            if pending != spec:   # an input changed since: the question was about another instance
                st.session_state["instances_create_confirm"] = None
            elif _confirmed_live(spec):
                _create(client, spec)


def _venue_inputs(client: HiveClient, rules: checks.Rules, flag: Flag) -> tuple[dict[str, str], str]:
    """Where it trades, and the credential it is handed: none for the simulated exchange and for paper, one stored
    for the chosen venue for live trading."""
    trading_col, venue_col, credential_col = st.columns(3)
    trading = trading_col.selectbox("Trades on", list(TRADING), key="instances_create_trading",
                                    format_func=TRADING.__getitem__,
                                    help="simulated: the built-in exchange; paper: a live venue's market data, its "
                                         "orders matched here and never sent; live: real orders, signed with a "
                                         "credential")
    if trading == "sim":
        return {"kind": "sim"}, ""
    venues = {**LIVE_VENUES, **({CCXT: "Another exchange, through ccxt"} if rules.ccxt_exchanges else {})}
    choice = venue_col.selectbox("Venue", list(venues), key="instances_create_live_venue",
                                 format_func=venues.__getitem__,
                                 help="Binance spot natively; another exchange through ccxt (its ccxt id below)")
    if choice == CCXT:
        exchange_col, network_col = st.columns(2)
        exchange = exchange_col.selectbox("Exchange", rules.ccxt_exchanges, key="instances_create_ccxt_exchange",
                                          help="ccxt's id of the exchange")
        testnet = network_col.checkbox("Its test network", key="instances_create_ccxt_testnet",
                                       help="the exchange's sandbox, where ccxt knows one")
        venue = {"kind": "ccxt", "exchange": exchange, "network": "testnet" if testnet else "mainnet",
                 "mode": trading}
        name = f"{exchange}_testnet" if testnet else exchange
        label = f"{exchange}{' (test network)' if testnet else ''} through ccxt"
    else:
        venue = {"kind": "binance", "network": "mainnet" if choice == "binance" else "testnet", "mode": trading}
        name, label = choice, LIVE_VENUES[choice]
    if trading == "paper":
        return venue, ""
    stored = errors.attempt("list the credentials", client.list_credentials) or []
    names = [item["name"] for item in stored if item["venue"] == name]
    if st.session_state["instances_create_credential"] not in names:   # one of another venue's, chosen before
        st.session_state["instances_create_credential"] = ""
    credential = credential_col.selectbox("Credential", ["", *names], key="instances_create_credential",
                                          format_func=lambda item: item or "choose one",
                                          help=f"the {label} credential its orders are signed with (stored for "
                                               f"{name}), handed to its process alone while it runs (see "
                                               "Credentials)")
    flag(credential_col, checks.credential_problem(name, label, credential, names))
    return venue, credential


def _confirmed_live(spec: dict[str, Any]) -> bool:
    """Going live is asked once more, naming the venue and the credential; True once confirmed."""
    venue = venue_label(spec["venue"])
    with st.container(border=True, key="instances_create_live_confirmation"):
        st.warning(f"**{spec['name']} will trade live on {venue}**, placing real orders signed with the credential "
                   f"**{spec['credential']}**.", icon=":material/warning:")
        confirm_col, cancel_col = st.columns(2)
        if cancel_col.button("Cancel", key="instances_create_live_cancel"):
            st.session_state["instances_create_confirm"] = None
            st.rerun(scope="fragment")
        return confirm_col.button(f"Trade live on {venue} with {spec['credential']}", type="primary",
                                  key="instances_create_live_confirm")


def _create(client: HiveClient, spec: dict[str, Any]) -> None:
    st.session_state["instances_create_confirm"] = None
    created = errors.attempt(f"create the instance {spec['name']}", client.create_instance, spec)
    if created is None:
        return  # the error is shown above and every input keeps its value
    st.session_state["instances_selected"] = created["name"]
    st.session_state["instances_notice"] = f"Created {created['name']}"
    if spec["start"]:
        st.session_state["instances_startup"] = {"name": created["name"], "since": created["created_at"],
                                                 "final": None}
    st.session_state["instances_create_clear"] = True
    st.rerun(scope="app")
