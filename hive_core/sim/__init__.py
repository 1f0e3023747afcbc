"""The simulated venue: a matching engine (exchange, market) and its Binance-style server (server, api, limits)."""
