"""The OpenAPI 3.1 document of the bot's control API (`GET /openapi.json`). Data only."""

from __future__ import annotations

from typing import Any

from gridkeeper.bot.params import MAX_GRID_NUM

_JSON = {"application/json": {"schema": {"type": "object"}}}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_OK = {"200": {"description": "OK", "content": _JSON}}
_ERRS = {
    "400": {"description": "Invalid input; `field` names the culprit, nothing changed."},
    "401": {"description": "Missing or wrong bearer token."},
    "503": {"description": "The bot is starting."},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "gridkeeper grid bot control API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/health": {
            "get": {
                "summary": "Liveness: 200 when the loop runs and the exchange "
                "answers, else 503 with the reason.",
                "responses": {**_OK, "503": {"description": "Unhealthy"}},
            }
        },
        "/health/detailed": {
            "get": {
                "summary": "State, uptime, loop time, latency, orders, position, PnL.",
                "security": _AUTH,
                "responses": {**_OK, "401": _ERRS["401"]},
            }
        },
        "/api/balances": {
            "get": {
                "summary": "The account's balances.",
                "security": _AUTH,
                "responses": {**_OK, "401": _ERRS["401"]},
            }
        },
        "/api/grid": {
            "get": {
                "summary": "Range, levels, open orders, profit.",
                "security": _AUTH,
                "responses": {**_OK, "401": _ERRS["401"]},
            }
        },
        "/api/grid/adjust": {
            "post": {
                "summary": "Change the range of the running grid (validated in full first).",
                "security": _AUTH,
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "grid_lower_price": {"type": ["number", "string"]},
                                    "grid_upper_price": {"type": ["number", "string"]},
                                    "lower": {"type": ["number", "string"]},
                                    "upper": {"type": ["number", "string"]},
                                    "num": {"type": "integer"},
                                    "dry_run": {
                                        "type": "boolean",
                                        "description": "Answer what would be cancelled and "
                                        "placed, which inventory each close covers, warnings "
                                        "and `refused`; change nothing.",
                                    },
                                    "position": {"enum": ["close", "keep"]},
                                    "grid_num": {
                                        "type": "integer",
                                        "minimum": 2,
                                        "maximum": MAX_GRID_NUM,
                                    },
                                },
                            }
                        }
                    }
                },
                "responses": {**_OK, **_ERRS},
            }
        },
        "/api/grid/adopt": {
            "post": {
                "summary": "Accept the exchange's position as the grid's (after a "
                "position_mismatch pause): the difference is booked at the mark price, the grid "
                "is laid out again from it and trading resumes.",
                "security": _AUTH,
                "responses": {**_OK, **_ERRS},
            }
        },
        **{
            f"/api/{name}": {
                "post": {"summary": text, "security": _AUTH, "responses": {**_OK, **_ERRS}}
            }
            for name, text in (
                ("pause", "Cancel the grid's orders and stop trading until resumed."),
                ("resume", "Resume a paused or stopped grid."),
            )
        },
        "/api/stop": {
            "post": {
                "summary": "Stop trading and stay up in the stopped state. Without flags every "
                "order is left resting; `cancel_orders` cancels the grid's orders; `flatten` "
                "cancels them, then closes the position at market (reduce-only on perps). "
                "Answers what it did: cancelled, left_resting, close.",
                "security": _AUTH,
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "cancel_orders": {"type": "boolean", "default": False},
                                    "flatten": {"type": "boolean", "default": False},
                                },
                            }
                        }
                    }
                },
                "responses": {**_OK, **_ERRS},
            }
        },
    },
}
