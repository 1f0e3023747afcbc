"""The thin client the dashboard uses: it knows the backend's URLs and auth, and nothing else.

Every method returns the JSON the backend answered. Failures come as one of two exceptions, so a
page can always say what happened: `BackendUnavailable` (nothing answered at the URL) and
`BackendError` (the backend answered with an error; `.status`, `.message` and `.code` say which).
"""
from __future__ import annotations

from typing import Any

import httpx


class BackendUnavailable(Exception):
    """The backend did not answer at all (down, wrong URL, timed out); `method` is the request's HTTP method."""

    def __init__(self, message: str, method: str = "") -> None:
        super().__init__(message)
        self.method = method

    @property
    def read(self) -> bool:
        """The request only read (GET): showing its last answer instead is honest."""
        return self.method == "GET"


class BackendError(Exception):
    """The backend answered with an error status; `message` is its `detail`, `code` a stable keyword,
    `retry_after` the seconds of a 429's Retry-After."""

    def __init__(self, status: int, message: str, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


class HiveClient:
    """Logged in with the username and password (HTTP Basic), or with a session token (`token`, from
    open_session), which then stands for them until it expires or is logged out."""

    def __init__(self, base_url: str, username: str = "", password: str = "", timeout: float = 10.0, *,
                 token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        auth = None if token else (username, password)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(base_url=self.base_url, auth=auth, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise BackendUnavailable(
                f"the backend at {self.base_url} does not answer ({error.__class__.__name__})", method) from error
        if response.is_error:
            raise _error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- service ----------------------------------------------------------------------------------
    def health(self) -> dict:
        return self._request("GET", "/health")

    def check_login(self) -> dict:
        """The username, and the session's `expires_at` with a token; raises BackendError(401) when the
        credentials are wrong (or the session expired: code `session_expired`, or was logged out: `session_ended`)."""
        return self._request("GET", "/auth/check")

    def open_session(self) -> dict:
        """A session for this login: its `token` (only given out here), `username` and `expires_at`."""
        return self._request("POST", "/auth/session")

    def end_session(self) -> None:
        """Log out the session of this client's token, everywhere it is used."""
        self._request("DELETE", "/auth/session")

    # --- broker -----------------------------------------------------------------------------------
    def broker_status(self) -> dict:
        return self._request("GET", "/broker")

    def start_broker(self, port: int | None = None, kind: str = "embedded") -> dict:
        return self._request("POST", "/broker/start", json={"port": port, "kind": kind})

    def stop_broker(self) -> dict:
        return self._request("POST", "/broker/stop")

    def use_external_broker(self, host: str, port: int, username: str | None = None,
                            password: str | None = None) -> dict:
        body = {"host": host, "port": port} | ({"username": username, "password": password} if username else {})
        return self._request("POST", "/broker/external", json=body)

    def broker_log(self, lines: int = 200) -> dict:
        return self._request("GET", "/broker/log", params={"lines": lines})

    def broker_access(self) -> dict:
        return self._request("GET", "/broker/access")

    def broker_logins(self) -> list[dict]:
        return self._request("GET", "/broker/logins")

    def create_broker_login(self, username: str, role: str, bot_id: str | None = None) -> dict:
        """The answer holds the password, this once."""
        return self._request("POST", "/broker/logins", json={"username": username, "role": role, "bot_id": bot_id})

    def revoke_broker_login(self, username: str) -> None:
        self._request("DELETE", f"/broker/logins/{username}")

    def broker_clients(self, limit: int = 1000) -> dict:
        """Who is connected to the broker and which part of Hive or which bot each is (GET /broker/clients)."""
        return self._request("GET", "/broker/clients", params={"limit": limit})

    def broker_metrics(self, since: float | None = None) -> list[dict]:
        """The broker's message rate, clients, CPU and memory over the last hour, oldest first."""
        return self._request("GET", "/broker/metrics", params={"since": since} if since is not None else {})

    def feed_status(self) -> dict:
        """The host's market-data service: its state, and per venue endpoint the streams instances take."""
        return self._request("GET", "/feed")

    # --- instances --------------------------------------------------------------------------------
    def list_instances(self) -> list[dict]:
        return self._request("GET", "/instances")

    def fleet(self, view: str = "summary", **filters: Any) -> list[dict]:
        """GET /instances with `view` and the filters of InstanceQuery (state=[...], runtime, host, q, sort, offset,
        limit); None values are left out."""
        params = {"view": view} | {key: value for key, value in filters.items() if value not in (None, [], "")}
        return self._request("GET", "/instances", params=params)

    def fleet_totals(self, **filters: Any) -> dict:
        return self._request("GET", "/fleet/totals",
                             params={key: value for key, value in filters.items() if value not in (None, [], "")})

    def instance_rules(self) -> dict:
        """What a new instance's fields must be (patterns and their words, limits), to check them as typed."""
        return self._request("GET", "/rules/instance")

    def gone_bots(self) -> list[dict]:
        return self._request("GET", "/fleet/gone")

    def forget_gone_bot(self, name: str) -> None:
        self._request("DELETE", f"/fleet/gone/{name}")

    def create_instance(self, spec: dict) -> dict:
        return self._request("POST", "/instances", json=spec)

    def get_instance(self, name: str) -> dict:
        return self._request("GET", f"/instances/{name}")

    def delete_instance(self, name: str) -> None:
        self._request("DELETE", f"/instances/{name}")

    def start_instance(self, name: str) -> dict:
        return self._request("POST", f"/instances/{name}/start")

    def stop_instance(self, name: str) -> dict:
        return self._request("POST", f"/instances/{name}/stop")

    def restart_instance(self, name: str) -> dict:
        return self._request("POST", f"/instances/{name}/restart")

    def instance_startup(self, name: str, since: float | None = None) -> dict:
        """Its start in steps (created, image ready, started, first heartbeat), the failing one and its log."""
        return self._request("GET", f"/instances/{name}/startup", params={} if since is None else {"since": since})

    def instance_logs(self, name: str, limit: int = 200, strategy: str | None = None, query: str | None = None,
                      min_level: str | None = None) -> list[dict]:
        """The newest `limit` lines that match (one strategy's, holding `query`, from `min_level` up), oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if strategy:
            params["strategy"] = strategy
        if query:
            params["q"] = query
        if min_level:
            params["min_level"] = min_level
        return self._request("GET", f"/instances/{name}/logs", params=params)

    def instance_performance(self, name: str, since: float | None = None) -> list[dict]:
        params = {"since": since} if since is not None else {}
        return self._request("GET", f"/instances/{name}/performance", params=params)

    def instance_resources(self, name: str, since: float | None = None) -> list[dict]:
        """CPU %, memory and network bytes over time, oldest first."""
        params = {"since": since} if since is not None else {}
        return self._request("GET", f"/instances/{name}/resources", params=params)

    def instance_trades(self, name: str, limit: int = 100) -> list[dict]:
        return self._request("GET", f"/instances/{name}/trades", params={"limit": limit})

    def instance_trades_count(self, name: str) -> int:
        return self._request("GET", f"/instances/{name}/trades/count")["count"]

    def instance_history(self, name: str) -> list[dict]:
        """State changes of the instance, newest first, each with its reason."""
        return self._request("GET", f"/instances/{name}/history")

    def command(self, name: str, command: str, data: dict | None = None, strategy: str | None = None,
                timeout: float | None = None) -> dict:
        """Send a command of docs/protocol.md (e.g. "status", "balance/paper") and return the bot's reply."""
        body: dict[str, Any] = {"data": data or {}}
        if strategy is not None:
            body["strategy"] = strategy
        if timeout is not None:
            body["timeout"] = timeout
        return self._request("POST", f"/instances/{name}/commands/{command}", json=body)

    def instance_notifications(self, name: str, limit: int = 200) -> list[dict]:
        return self._request("GET", f"/instances/{name}/notifications", params={"limit": limit})

    def instance_events(self, name: str, limit: int = 200) -> list[dict]:
        """The bot's market events (P/events), newest first."""
        return self._request("GET", f"/instances/{name}/events", params={"limit": limit})

    # --- one strategy of an instance --------------------------------------------------------------
    def stop_strategy(self, name: str, strategy: str) -> dict:
        return self._request("POST", f"/instances/{name}/strategies/{strategy}/stop")

    def resume_strategy(self, name: str, strategy: str) -> dict:
        return self._request("POST", f"/instances/{name}/strategies/{strategy}/resume")

    def change_strategy_params(self, name: str, strategy: str, params: dict[str, Any]) -> dict:
        return self._request("POST", f"/instances/{name}/strategies/{strategy}/params", json={"params": params})

    def reload_strategy(self, name: str, strategy: str, version: int | None = None) -> dict:
        """Hot reload of one strategy's code: the library `version`, or the latest when None."""
        return self._request("POST", f"/instances/{name}/strategies/{strategy}/reload", json={"version": version})

    def strategy_history(self, name: str, strategy: str, limit: int = 100) -> list[dict]:
        """The strategy's commands (stop, resume, params, reload from -> to), newest first."""
        return self._request("GET", f"/instances/{name}/strategies/{strategy}/history", params={"limit": limit})

    # --- across the fleet: open orders, errors, alerts --------------------------------------------
    def open_orders(self, instance: str | None = None, trading_pair: str | None = None) -> list[dict]:
        """The open orders of every running instance's strategies (or of one instance's, or on one pair)."""
        params = {key: value for key, value in (("instance", instance), ("trading_pair", trading_pair)) if value}
        return self._request("GET", "/orders/open", params=params)

    def fleet_errors(self, limit: int = 200, instance: str | None = None) -> list[dict]:
        """ERROR and CRITICAL log lines of every instance (or of one), newest first, with their stack traces."""
        params: dict[str, Any] = {"limit": limit} | ({"instance": instance} if instance else {})
        return self._request("GET", "/errors", params=params)

    def alerts(self, limit: int = 50, unacknowledged: bool = False) -> list[dict]:
        return self._request("GET", "/alerts", params={"limit": limit, "unacknowledged": unacknowledged})

    def acknowledge_alert(self, alert_id: int) -> dict:
        return self._request("POST", f"/alerts/{alert_id}/ack")

    def acknowledge_alerts(self) -> dict:
        """Every unacknowledged alert; answers how many were acknowledged."""
        return self._request("POST", "/alerts/ack")

    # --- venue credentials (answers never hold a secret part) -------------------------------------
    def list_credentials(self) -> list[dict]:
        return self._request("GET", "/credentials")

    def create_credential(self, name: str, venue: str, api_key: str, secret: str,
                          passphrase: str | None = None) -> dict:
        body = {"name": name, "venue": venue, "api_key": api_key, "secret": secret, "passphrase": passphrase}
        return self._request("POST", "/credentials", json=body)

    def get_credential(self, name: str) -> dict:
        return self._request("GET", f"/credentials/{name}")

    def replace_credential(self, name: str, api_key: str, secret: str, passphrase: str | None = None) -> dict:
        body = {"api_key": api_key, "secret": secret, "passphrase": passphrase}
        return self._request("PUT", f"/credentials/{name}", json=body)

    def delete_credential(self, name: str) -> None:
        self._request("DELETE", f"/credentials/{name}")

    def rotate_credentials_key(self, key: str | None = None) -> dict:
        """Re-encrypt every credential with `key` (generated when None); the answer says where the key now is."""
        return self._request("POST", "/credentials/rotate-key", json={"key": key})

    # --- Docker hosts (answers never hold TLS material) -------------------------------------------
    def list_hosts(self) -> list[dict]:
        """Each Docker host with its last health check."""
        return self._request("GET", "/hosts")

    def add_host(self, name: str, url: str, ca: str | None = None, cert: str | None = None, key: str | None = None,
                 broker_host: str | None = None) -> dict:
        """Kept even when it does not answer; the answer's `health` says how the first connection went."""
        body = {"name": name, "url": url, "ca": ca, "cert": cert, "key": key, "broker_host": broker_host}
        return self._request("POST", "/hosts", json=body)

    def get_host(self, name: str) -> dict:
        return self._request("GET", f"/hosts/{name}")

    def delete_host(self, name: str) -> None:
        self._request("DELETE", f"/hosts/{name}")

    # --- external events, webhooks, audit ---------------------------------------------------------
    def publish_event(self, name: str, data: dict, targets: list[str] | str = "all") -> dict:
        return self._request("POST", "/events", json={"name": name, "data": data, "targets": targets})

    def list_events(self, limit: int = 100) -> list[dict]:
        return self._request("GET", "/events", params={"limit": limit})

    def list_webhooks(self) -> list[dict]:
        return self._request("GET", "/webhooks")

    def create_webhook(self, spec: dict) -> dict:
        """The answer carries the secret, this once."""
        return self._request("POST", "/webhooks", json=spec)

    def delete_webhook(self, hook: str) -> None:
        self._request("DELETE", f"/webhooks/{hook}")

    def tradingview_ips(self) -> list[str]:
        return self._request("GET", "/webhooks/tradingview-ips")

    def audit_log(self, limit: int = 200, instance: str | None = None) -> list[dict]:
        params: dict[str, Any] = {"limit": limit}
        if instance is not None:
            params["instance"] = instance
        return self._request("GET", "/audit", params=params)

    def audit_entries(self, **filters: Any) -> list[dict]:
        """The audit log, newest first; filters: actor, action, outcome, instance, strategy, since, until, q,
        limit, offset (None ones left out)."""
        return self._request("GET", "/audit", params={k: v for k, v in filters.items() if v is not None})

    def audit_actions(self) -> list[str]:
        return self._request("GET", "/audit/actions")

    # --- images -----------------------------------------------------------------------------------
    def list_images(self, host: str = "local") -> list[dict]:
        return self._request("GET", "/images", params={"host": host})

    def build_image(self, host: str = "local") -> dict:
        """Starts the build job of hive/hive-core; follow it with image_job(id)."""
        return self._request("POST", "/images/build", json={"host": host})

    def pull_image(self, image: str, host: str = "local") -> dict:
        return self._request("POST", "/images/pull", json={"image": image, "host": host})

    def image_jobs(self) -> list[dict]:
        return self._request("GET", "/images/jobs")

    def image_job(self, job_id: str) -> dict:
        return self._request("GET", f"/images/jobs/{job_id}")

    # --- strategies -------------------------------------------------------------------------------
    def list_strategies(self) -> list[dict]:
        return self._request("GET", "/strategies")

    def get_strategy(self, name: str) -> dict:
        return self._request("GET", f"/strategies/{name}")

    def new_strategy(self, name: str) -> dict:
        """A new strategy whose version 1 is the starter template."""
        return self._request("POST", "/strategies/new", json={"name": name})

    def upload_strategy(self, filename: str, source: str) -> dict:
        return self._request("POST", "/strategies", files={"file": (filename, source.encode(), "text/x-python")})

    def save_strategy(self, name: str, source: str) -> dict:
        """Store a new version of an uploaded strategy (the editor's Save)."""
        return self._request("PUT", f"/strategies/{name}", json={"source": source})

    def strategy_version(self, name: str, version: int) -> dict:
        return self._request("GET", f"/strategies/{name}/versions/{version}")

    def strategy_diff(self, name: str, from_version: int, to_version: int) -> dict:
        return self._request("GET", f"/strategies/{name}/diff", params={"from": from_version, "to": to_version})

    def restore_strategy_version(self, name: str, version: int) -> dict:
        """Roll back: a new version with the source of `version`."""
        return self._request("POST", f"/strategies/{name}/versions/{version}/restore")

    def rename_strategy(self, name: str, to: str) -> dict:
        return self._request("POST", f"/strategies/{name}/rename", json={"to": to})

    def delete_strategy(self, name: str) -> None:
        self._request("DELETE", f"/strategies/{name}")

    # --- configuration templates (Hummingbot-style script configs: a strategy's params under a name) ---
    def list_configs(self) -> list[dict]:
        return self._request("GET", "/scripts/configs")

    def get_config(self, name: str) -> dict:
        return self._request("GET", f"/scripts/configs/{name}")

    def save_config(self, name: str, config: dict) -> dict:
        """Create or replace; `config` names its strategy in `script_file_name` (`grid.py`), the rest are params."""
        return self._request("POST", f"/scripts/configs/{name}", json=config)

    def delete_config(self, name: str) -> None:
        self._request("DELETE", f"/scripts/configs/{name}")

def _error_from(response: httpx.Response) -> BackendError:
    try:
        body = response.json()
    except ValueError:
        return BackendError(response.status_code, response.text or response.reason_phrase)
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI's request-validation errors
        detail = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg', '')}" for item in detail
        )
    code = body.get("code") if isinstance(body, dict) else None
    retry_after = response.headers.get("retry-after", "")
    return BackendError(response.status_code, str(detail), code, int(retry_after) if retry_after.isdigit() else None)
