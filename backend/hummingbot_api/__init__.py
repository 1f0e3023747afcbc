"""The Hummingbot-API-compatible subset: what `hummingbot-api-client` (1.5.9) calls in its docker,
bot_orchestration and scripts routers, mapped onto Hive.

    Hummingbot API                      Hive
    container <name>                    instance <name> run by this backend (process runtime)
    image                               the local hive_core build, hive/hive-core:<version>
    active bot                          an instance whose process runs, or any bot heard on the broker in 30 s
    script                              uploaded strategy in the library (shipped examples are read-only)
    script config                       named params for one strategy (script_file_name + params)
    controller config                   a script config; each one deployed becomes one strategy of the instance
    bot run                             one deployment of an instance, kept after it is deleted
    controller performance              P/performance per strategy, live and as stored PnL snapshots

Response bodies follow Hummingbot API's shapes; errors come as `{"detail", "code"}` with an HTTP status,
which the client reads through `detail`.
"""
