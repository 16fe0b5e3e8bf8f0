#!/usr/bin/env python3
"""A real SMTP server on loopback for Souk's tests (aiosmtpd): every mail it accepts is written,
decoded, as one JSON file into DIR (to, from, subject, message_id, body), so tests read what a
mailbox would show.

    python3 scripts/smtp-sink.py PORT DIR

PORT 0 lets the system choose a free port; the sink then prints "listening on PORT" once its
socket accepts connections (so a test never races another process for a port it picked).

Mails sent to an address starting with "refuse" are answered 451 (a transient failure), for
the retry tests.
"""
import asyncio
import email
import email.policy
import json
import os
import sys
import uuid

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "to": envelope.rcpt_tos,
            "from": envelope.mail_from,
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "body": body.get_content() if body is not None else "",
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        # Renamed into place: a reader never sees half a mail.
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 Message accepted for delivery"


async def serve(port, directory):
    loop = asyncio.get_running_loop()
    handler = Sink(directory)
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    print("listening on", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    try:
        asyncio.run(serve(port, directory))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
