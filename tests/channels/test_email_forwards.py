"""Forwards with nothing written above them whose shape alone does not say so (channels/email/message.py):
Outlook's "FW:" over its header block, which reads like a reply's quote, and HTML-only forwards, whose
forwarded mail sits in the quote elements an HTML reply's quote is left out by. The words and the author
are the forwarded mail's, as with a plain-text forward's marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.channels.email.message import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
CUSTOMER = ("angry@example.net", "The blender broke after two days and the store will not take it back.")
# fixture → (author e-mail, text, html_only)
FORWARDS = {
    "outlook_forward_plain.eml": (*CUSTOMER, False),
    "gmail_forward_html_only.eml": (*CUSTOMER, True),
}


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_a_forward_with_nothing_written_is_the_forwarded_customers(name: str):
    mail = parse((FIXTURES / name).read_bytes())
    assert (mail.author.email, mail.text, mail.html_only) == FORWARDS[name]
    assert mail.forwarded is True


OUTLOOK_HTML = (
    '<div class="WordSection1"><p class="MsoNormal">&nbsp;</p><div id="divRplyFwdMsg"><b>From:</b> Angry '
    "Customer &lt;angry@example.net&gt;<br><b>Sent:</b> Monday, December 2, 2024 9:15 AM<br><b>To:</b> Sam "
    "&lt;sam@shop.example&gt;<br><b>Subject:</b> Broken</div><p class=MsoNormal>It broke.</p></div>"
)
APPLE_HTML = (
    '<div><br><blockquote type="cite"><div>Begin forwarded message:</div><br><div><b>From: </b>Angry '
    "Customer &lt;angry@example.net&gt;</div><div><b>Subject: </b>Broken</div><div><b>Date: </b>2 December "
    "2024</div><br><div>It broke.</div></blockquote></div>"
)


@pytest.mark.parametrize(
    ("subject", "html", "expected"),
    [
        ("FW: Broken", OUTLOOK_HTML, ("angry@example.net", "It broke.", True)),
        ("WG: Broken", OUTLOOK_HTML, ("angry@example.net", "It broke.", True)),  # German Outlook
        ("Fwd: Broken", APPLE_HTML, ("angry@example.net", "It broke.", True)),
        # A reply with nothing written stays what it was: the replier's, its subject the text.
        ("RE: Broken", OUTLOOK_HTML, ("sam@shop.example", "RE: Broken", False)),
        # Words written above the forward stay the forwarder's.
        (
            "FW: Broken",
            "<p>Please call her.</p>" + OUTLOOK_HTML,
            ("sam@shop.example", "Please call her.", False),
        ),
    ],
)
def test_html_only_forwards_of_each_client(subject: str, html: str, expected: tuple):
    raw = f"From: Sam <sam@shop.example>\r\nSubject: {subject}\r\nContent-Type: text/html\r\n\r\n{html}\r\n"
    mail = parse(raw.encode())
    assert (mail.author.email, mail.text, mail.forwarded) == expected
