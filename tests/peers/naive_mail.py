"""A naive mail tool: it builds the message with Python's `email` package
(the modern EmailMessage API, as the documentation shows) and queues it, one
file per message in OUTBOX, the way a real one would hand it to smtplib.
The test reads the queued messages to see which headers a value produced.

    python naive_mail.py OUTBOX
"""

import itertools
import os
import sys
from email.message import EmailMessage
from pathlib import Path

from mcp.server.mcpserver import MCPServer

OUTBOX = Path(sys.argv[1])
server = MCPServer("naive-mail")
counter = itertools.count()


def addresses(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


@server.tool()
def send_email(to: str | list[str], subject: str, body: str, cc: str | list[str] | None = None) -> str:
    """Send an e-mail."""
    message = EmailMessage()
    message["From"] = "assistant@example.com"
    message["To"] = addresses(to)
    if cc:
        message["Cc"] = addresses(cc)
    message["Subject"] = subject
    message.set_content(body)
    path = OUTBOX / f"{os.getpid()}-{next(counter):04}.eml"
    path.write_text(message.as_string())
    return f"queued {path.name}"


if __name__ == "__main__":
    server.run()
