"""Keeps LiteLLM's and uvicorn's log lines for events the gateway already reports in its own words.

The gateway writes one line per event: the access line (status, model, account), `subgate.upstream`
for an upstream's error with the upstream's own message, `subgate.quota` for a block. LiteLLM logs
the same events again, often as a 50-line traceback and sometimes with words that contradict the
client's answer ("Invalid model name ... 400" while the client gets 503 with a login hint, "Try again
in 5 seconds" while the client gets Retry-After: 30). Those records are dropped unless the gateway
runs with `debug: true`; an exception the gateway does not know (a bug) is still logged in full.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.stream_errors import transport_message

LOGGERS = ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router", "uvicorn.error")

# Lines that are noise whatever comes with them.
_NOISE = (
    "LITELLM_MASTER_KEY is not set",  # the gateway checks client keys itself (gateway/client_keys.py)
    "not found in credential_list",  # pool names in model_list; the gateway adds one deployment per account
    "No deployments available",  # every account blocked: the client gets 429 + Retry-After
    "Invalid model name",  # no account for the model: the client gets 503 with the login command
    "Error in chunk_processor",  # a cut stream, reported by the access line and the stream's error event
    "streaming fallback also failed",
)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def expected(exc: BaseException) -> bool:
    """An error that has an HTTP answer (client mistake, upstream error), a cut or a cancellation."""
    for link in _chain(exc):
        if isinstance(link, (asyncio.CancelledError, GeneratorExit)):
            return True
        if transport_message(str(link)) is not None or transport_message(type(link).__name__) is not None:
            return True
        status = getattr(link, "status_code", None)
        if isinstance(status, int) and status != 500:
            return True
        upstream = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(upstream, int) and type(link).__name__.endswith("HTTPStatusError"):
            return True  # the upstream's own answer (a 5xx included): subgate.upstream logged it
        code = getattr(link, "code", None)  # LiteLLM's ProxyException carries the status as text
        if isinstance(code, str) and code.isdigit() and code != "500":
            return True
    return False


class GatewayWordsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if any(marker in text for marker in _NOISE):
            return False
        excs = []
        if record.exc_info and record.exc_info[1] is not None:
            excs.append(record.exc_info[1])
        args = record.args if isinstance(record.args, tuple) else ()
        excs += [a for a in args if isinstance(a, BaseException)]
        if any(expected(e) for e in excs):
            return False
        if excs or record.exc_info:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        return not any(marker in message for marker in _NOISE)


_FILTER = GatewayWordsFilter()


def install(debug: bool = False) -> None:
    """Idempotent. With debug on, everything LiteLLM says is kept."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if debug:
            logger.removeFilter(_FILTER)
        elif _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
