"""Mail a site's contact form or a form service relays for a customer (channels/email/message.py): the item is
the customer's in Reply-To, never the relay's address, which every visitor of the form would share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.channels.email.message import parse, to_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
RECEIVED = datetime(2024, 12, 5, tzinfo=UTC)

# Sent by a site's contact form or a form service for a customer: fixture → (the recipient it was delivered
# to, the customer's e-mail and name from Reply-To, the words). The relay's own address is nobody's.
RELAYED = {
    # WordPress (Contact Form 7's defaults): the site's title as the name, the visitor's address as Reply-To.
    "contact_form_wordpress.eml": (
        "feedback@shop.example",
        "jane.customer@gmail.example",
        None,
        "The size guide says M but the shirt fits like an S. Can I exchange it?",
    ),
    # Contact Form 7's default body without a Reply-To: its "From:" line names the visitor, and its message
    # is the words (not the form's field labels).
    "contact_form_cf7_body.eml": (
        "feedback@shop.example",
        "maria.lopez@gmail.example",
        "María López",
        "The zipper of the jacket broke on the first day.",
    ),
    "contact_form_formspree.eml": (
        "feedback@shop.example",
        "jose.ramirez@correo.example",
        "José Ramírez",
        "El pedido llegó sin la factura.",
    ),
    # The site's own address (not a no-reply one) with a Reply-To outside the site: the form's visitor.
    "contact_form_own_domain.eml": (
        "feedback@shop.example",
        "li.wei@mail.example",
        "Li Wei",
        "Is there a discount for orders of ten or more?",
    ),
}


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", sorted(RELAYED))
def test_a_contact_form_relays_mail_is_the_customers_it_names_in_reply_to(name: str):
    recipient, email, author_name, text = RELAYED[name]
    event = to_event(
        parse(_raw(name), recipients=[recipient]), source_id="s_1", recipient=recipient, received_at=RECEIVED
    )
    assert (event.author.email, event.author.name, event.text) == (email, author_name, text)


@pytest.mark.parametrize(
    ("sender", "reply_to", "expected"),
    [
        # Two visitors of one form are two customers; a relay without Reply-To is nobody.
        ("Shop <wordpress@shop.example>", "Ann <ann@a.example>", ("ann@a.example", "Ann")),
        ("Shop <wordpress@shop.example>", "bob@b.example", ("bob@b.example", None)),
        ("Shop <no-reply@shop.example>", "", (None, None)),
        ("Jotform <noreply+abc@jotform.com>", "Cy <cy@c.example>", ("cy@c.example", "Cy")),
        ("Dee via Shop <forms@shop.example>", "dee@d.example", ("dee@d.example", "Dee")),
        # A person's own Reply-To (another of their addresses, a colleague's on their domain) is no relay.
        ("Eve <eve@e.example>", "Eve <eve.home@home.example>", ("eve@e.example", "Eve")),
        ("Sam <sam@shop.example>", "team@shop.example", ("sam@shop.example", "Sam")),
    ],
)
def test_a_relay_is_known_by_its_address_and_a_site_by_its_recipients_domain(
    sender: str, reply_to: str, expected: tuple
):
    header = f"Reply-To: {reply_to}\r\n" if reply_to else ""
    raw = f"From: {sender}\r\n{header}Message-ID: <r-1@x.example>\r\n\r\nThe form works.\r\n"
    mail = parse(raw.encode(), recipients=["feedback@shop.example"])
    assert (mail.author.email, mail.author.name) == expected


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        # Forwarded by a colleague with nothing written: the visitor's, as if the form had mailed us.
        ("", ("maria.lopez@gmail.example", "The zipper of the jacket broke on the first day.")),
        # With a note of the colleague's own above the forward: the note, the colleague's.
        ("Can someone call her back?\n\n", ("sam@shop.example", "Can someone call her back?")),
    ],
)
def test_a_forwarded_contact_form_mail_is_the_visitors_unless_the_forwarder_wrote(note: str, expected: tuple):
    form = _raw("contact_form_cf7_body.eml").decode().split("\r\n\r\n", 1)[1].replace("\r\n", "\n")
    body = (
        f"{note}---------- Forwarded message ---------\nFrom: Acme Shop <wordpress@shop.example>\n"
        f"Date: Thu, Dec 5, 2024 at 12:40 PM\nSubject: Broken zipper\nTo: <sales@shop.example>\n\n\n{form}"
    )
    raw = f"From: Sam Lee <sam@shop.example>\nMessage-ID: <fw-cf-1@shop.example>\n\n{body}"
    mail = parse(raw.replace("\n", "\r\n").encode("utf-8"), recipients=["feedback@shop.example"])
    assert (mail.author.email, mail.text) == expected
