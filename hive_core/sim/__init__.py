"""The simulated venue: a matching engine (exchange, market) and its Binance-style network server (server, api, limits)."""
