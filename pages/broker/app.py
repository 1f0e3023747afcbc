"""Broker page: choose and start the MQTT broker every instance meets at (embedded, a Mosquitto container, or an
external one), stop it, and watch its health, its authentication, who is connected (and which bot each is), its
message rate, clients, CPU and memory over the last hour, and its log live; the broker's logins (extra ones for bots
and tools Hive does not run, shown once, revocable) and, for an external broker, what to install so that it enforces
them."""
from __future__ import annotations

import streamlit as st

import CONFIG
from frontend import badges, charts, errors, session, tables
from frontend import format as fmt
from frontend.resources import resource_metrics
from pages.broker import actions

CLIENTS_SHOWN = 500  # rows of the clients table; the backend says how many there are in all

client = session.client()

st.title("Broker")
st.caption("The MQTT broker every instance connects to (start it before creating instances), and the market-data "
           "service the instances on this machine share their venues' market data through.")


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def broker_panel() -> None:
    status = errors.attempt("read the broker's state", client.broker_status)
    if status is None:
        return
    active = status["state"] in ("running", "starting")
    host, port = actions.reachable_host(status["host"]), status["port"]

    choice = st.radio("Broker", list(actions.CHOICES), key="broker_kind", horizontal=True, disabled=active,
                      index=list(actions.CHOICES.values()).index(status["kind"]),
                      help="Embedded: amqtt in a process of its own. Container: Mosquitto on the local Docker "
                           "engine, with a generated password. External: a broker someone else runs.")
    kind = actions.CHOICES[choice]
    if kind == "external":
        external_form(active, host, port)
    else:
        chosen_port = st.number_input("Port", min_value=1, max_value=65535, value=port, step=1, key="broker_port",
                                      disabled=active, width=200,
                                      help="where the broker listens; the default is the setting HIVE_BROKER_PORT")
    buttons = st.container(horizontal=True)
    if kind != "external":
        buttons.button("Start Broker", key="broker_start", type="primary", disabled=active,
                       on_click=actions.start, args=(client, int(chosen_port), kind))
    buttons.button("Stop Broker", key="broker_stop", disabled=status["state"] == "stopped",
                   on_click=actions.ask_stop)
    if st.session_state["broker_confirm_stop"] and status["state"] != "stopped":
        instances = errors.attempt("list the instances", client.list_instances)
        st.warning("**Stop the broker?** " + (actions.cut_off(instances) if instances is not None else ""),
                   icon=":material/power_settings_new:")
        confirm = st.container(horizontal=True)
        confirm.button("Yes, stop the broker", key="broker_stop_confirm", type="primary", on_click=actions.stop,
                       args=(client,))
        confirm.button("Cancel", key="broker_stop_cancel", on_click=actions.cancel_stop)
    errors.show_feedback(actions.PREFIX)
    if actions.port_taken():
        st.button(f"Use the broker already at {host}:{port}", key="broker_use_external",
                  on_click=actions.use_external, args=(client, host, port))

    badges.state_badge(status["state"], status.get("reason", ""), key="broker_state")
    st.caption(actions.describe(status))
    warning = actions.anonymous_warning(status)
    if warning:
        st.warning(warning, icon=":material/lock_open:")

    address, clients, throughput, uptime = st.columns([2, 1, 1, 1])
    address.metric("Address", f"{host}:{port}", border=True)
    clients.metric("Connected clients", fmt.count(status.get("clients_connected")), border=True)
    throughput.metric("Messages", fmt.rate(status.get("messages_per_s")), border=True)
    uptime.metric("Uptime", fmt.duration(status.get("uptime_s")), border=True)
    resource_metrics("broker", status.get("cpu_percent"), status.get("memory_bytes"))
    st.markdown(actions.authentication(status))
    if status["state"] != "stopped":
        points = errors.attempt("read the broker's figures over time", client.broker_metrics)
        if points is not None:
            st.caption("The last hour: messages received per second and connected clients (from the broker's $SYS "
                       "topics), the broker's CPU and memory.")
            charts.broker_chart(points, key="broker_metrics_chart")
        clients_section()
    if status["kind"] != "external" and status["state"] != "stopped":
        with st.expander("Broker log"):
            broker_log = errors.attempt("read the broker's log", client.broker_log, CONFIG.LOG_LINES)
            if broker_log is not None:
                st.code("\n".join(broker_log["lines"]) or "(nothing logged yet)", language=None, height=300)


def clients_section() -> None:
    """Who is connected and which bot each is; read only while its section is open (it may list thousands)."""
    # one label whatever the count: an expander whose label changes is a new one, and closes (the count is above)
    section = st.expander("Connected clients", key="broker_clients_open", on_change="rerun")
    if section.open is False:
        return
    with section:
        answer = errors.attempt("list the broker's clients", client.broker_clients, CLIENTS_SHOWN)
        if answer is None:
            return
        if answer["note"]:
            st.caption(answer["note"])
        tables.show_table(tables.broker_clients_frame(answer["clients"]), "No client connected",
                          key="broker_clients")
        if answer["total"] > len(answer["clients"]):
            st.caption(f"The first {len(answer['clients'])} of {answer['total']} by client id.")
        if answer["untracked"]:
            st.caption(f"{answer['untracked']} more connected beyond the {fmt.count(answer['total'])} followed: the "
                       "count above is the broker's own.")


def logins_panel() -> None:
    """Every broker login (never a password), a form for an extra one, and revoking one."""
    st.subheader("Logins")
    st.caption("Every client logs in. The backend and controllers may use every topic; each instance, and each "
               "bot login, only its own bot's topics (docs/protocol.md, Broker logins and ACL).")
    created = st.session_state.get("broker_login_created")
    if created:
        st.success(f"Broker login **{created['username']}** created. Its password is shown only now:")
        st.code(created["password"], language=None)
        st.button("I have copied it", key="broker_login_done", on_click=actions.forget_created_login)
    logins = errors.attempt("list the broker logins", client.broker_logins)
    if logins is None:
        return
    tables.show_table(tables.broker_logins_frame(logins), "No broker login yet", key="broker_logins")
    extra = [entry["username"] for entry in logins if entry["role"] in ("bot", "controller")]
    with st.expander("New login for a bot or a tool Hive does not run (a real Hummingbot, hbotrc)"):
        session.empty_if_asked(actions.LOGIN_FORM, actions.LOGIN_INPUTS)
        name_col, role_col, bot_col = st.columns(3)
        username = name_col.text_input("Username", key="broker_login_username")
        role = role_col.selectbox("Rights", list(actions.ROLES), key="broker_login_role")
        bot_col.text_input("Bot id", key="broker_login_bot", disabled=actions.ROLES[role] != "bot",
                           help="the bot's instance id on the wire (its topics are hbot/<bot id>/...)")
        st.button("Create login", key="broker_login_create", disabled=not username.strip(),
                  on_click=actions.create_login, args=(client,))
    if extra:
        pick, revoke = st.columns([3, 1], vertical_alignment="bottom")
        pick.selectbox("Login to revoke", extra, key="broker_login_revoke_pick")
        revoke.button("Revoke", key="broker_login_revoke", on_click=actions.revoke_login, args=(client,))


def external_setup() -> None:
    """What to install on an external broker so that it enforces Hive's logins and ACL."""
    with st.expander("Make the external broker enforce Hive's logins and ACL"):
        setup = errors.attempt("read the external broker's setup", client.broker_access)
        if setup is None:
            return
        st.markdown(f"Password file: `{setup['password_file']}`  \nACL file: `{setup['acl_file']}`")
        st.markdown("\n".join(f"{number}. {step}" for number, step in enumerate(setup["steps"], 1)))
        st.code("\n".join(setup["mosquitto_lines"]), language=None)


def external_form(active: bool, host: str, port: int) -> None:
    """Where the external broker is, and its login when it needs one (sent once, kept encrypted, never shown)."""
    where, at = st.columns([3, 1])
    ext_host = where.text_input("Host", value=host, key="broker_ext_host", disabled=active)
    at.number_input("Port", min_value=1, max_value=65535, value=port, step=1, key="broker_ext_port",
                    disabled=active)
    user, secret = st.columns(2)
    user.text_input("Username", key="broker_ext_username", disabled=active,
                    help="leave empty for a broker that takes anonymous clients")
    secret.text_input("Password", type="password", key="broker_ext_password", disabled=active)
    st.button("Connect", key="broker_connect", type="primary", disabled=active or not ext_host,
              on_click=actions.connect_external, args=(client,))


@st.fragment(run_every=CONFIG.REFRESH_SECONDS)
def feed_panel() -> None:
    """The host's market-data service: one connection per venue endpoint for every instance on this machine."""
    st.subheader("Market-data service")
    status = errors.attempt("read the market-data service's state", client.feed_status)
    if status is None:
        return
    if status["state"] == "disabled":
        st.info("Off (HIVE_FEED_SERVICE=false): each instance connects to its venues itself.")
        return
    reason = status["error"] or (f"{status['address']} · pid {status['pid']}" if status["address"] else "")
    badges.state_badge(status["state"], reason, key="feed_state")
    if status["state"] != "running":
        st.caption("Instances take their market data from the venues themselves until it runs again; the backend "
                   "starts it again within seconds.")
        return
    st.caption(f"{status['clients']} instance stream connection{'s' if status['clients'] != 1 else ''} · "
               f"{status['dropped']} message{'s' if status['dropped'] != 1 else ''} dropped for instances that read "
               "too slowly (each told, its books resynced)")
    tables.show_table(tables.feed_frame(status["upstreams"]), "No venue yet: an instance trading on Binance's market "
                      "data opens one.", key="feed_upstreams")


broker_panel()
feed_panel()
logins_panel()
if (errors.attempt("read the broker's state", client.broker_status) or {}).get("kind") == "external":
    external_setup()
