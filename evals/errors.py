"""The one error type for user mistakes (bad path, malformed data, unreachable server, ...)."""


class JevalError(Exception):
    """A problem the user can fix. The CLI prints the message on one line and exits with 2."""


class Unavailable(JevalError):
    """A task that cannot run in this run as asked: its data was never prepared, or it has no
    few-shot examples for the shots asked. A task named by itself stops the run with this error;
    a member of a group named on the command line is skipped with the reason, unless the run
    requires every member (`--require-all`)."""


class ItemRejected(JevalError):
    """The server refused this one request (HTTP 400/413/422, such as vLLM's answer to a prompt
    longer than its context), or jeval found before sending that it cannot fit: that item fails
    with the reason, scored as an empty answer, and the run goes on."""
