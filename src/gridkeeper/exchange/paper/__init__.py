"""The Backpack-compatible paper exchange: engine (pure), store (SQLite), HTTP/websocket app."""
