# ruff: noqa: RUF001 (the fixtures' curly quotes and dashes are the point of the charset cases)
"""One received mail → one FeedbackEvent (channels/email/message.py): real-world shapes from the major clients
in several languages and charsets, automatic mail skipped, malformed mail read best-effort or refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.channels.email.html_text import html_to_text
from chalicelib.channels.email.message import MailRefused, parse, to_event
from chalicelib.channels.email.quotes import new_words, without_sign_off
from chalicelib.models import Channel, Kind, feedback_id_for
from tests.channels.test_email_forwards import FORWARDS
from tests.channels.test_email_relays import RELAYED

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
RECEIVED = datetime(2024, 12, 5, tzinfo=UTC)

# fixture → (author e-mail, author name, the customer's new words, subject, thread id)
FEEDBACK = {
    "gmail_reply_en.eml": (
        "jane.doe@gmail.example",
        "Jane Doe",
        "The parcel arrived two days late and the box was crushed.\nThe blender itself works fine though.",
        "Re: Your order #1042",
        "order-1042@acme.example",
    ),
    "apple_mail_fr.eml": (
        "amelie@orange.example",
        "Amélie Dupré",
        "Bonjour,\n\nLe service client a été très réactif, merci beaucoup !",
        "Re : Votre commande",
        "order-77@acme.example",
    ),
    "outlook_de_base64.eml": (
        "juergen@firma.example",
        "Jürgen Müller",
        # The closing and the name under it are the signature.
        "Hallo,\n\ndie Lieferung war vollständig, aber die Rechnung fehlt. Bitte schicken Sie sie erneut.",
        "AW: Ihre Bestellung 5531",
        "order-5531@acme.example",
    ),
    "thunderbird_de_latin1.eml": (
        "baerbel@web.example",
        "Bärbel Schröder",
        "Guten Tag,\n\ndie Größe passt nicht, ich möchte den Mantel umtauschen.",
        "Re: Ihr Einkauf",
        "purchase-9@acme.example",
    ),
    "outlook_en_windows1252.eml": (
        "tom@corp.example",
        "Baker, Tom",
        "Hi team,\n\nI can’t log in since the update – it says “invalid token” and costs me €50 a day.",
        "RE: Your ticket 881",
        "ticket-881@acme.example",
    ),
    "iphone_es.eml": (
        "jose@correo.example",
        "José García",
        "Hola,\n\nLa aplicación se cierra cada vez que intento pagar con tarjeta.",
        "Re: Pago",
        "pay-3@acme.example",
    ),
    "japanese_shift_jis.eml": (
        "taro@mail.example.jp",
        "山田 太郎",
        "お世話になっております。\n\n注文した商品がまだ届きません。確認をお願いします。",
        None,
        "20241203180000.ABCD@mail.example.jp",
    ),
    "html_only.eml": (
        "li.wei@example.com",
        "Li Wei",
        "The checkout page is slow & the coupon field is hidden.\n\n- Chrome on Windows\n- Safari on iPhone",
        "Checkout page",
        "html-only-1@example.com",
    ),
    # Forwarded with nothing written above: the words and their author are the forwarded mail's (the
    # customer who said them), not the colleague's who passed them on.
    "forwarded_gmail.eml": (
        "angry@example.net",
        "Angry Customer",
        "The replacement part never came and nobody answers the phone.",
        "Fwd: Complaint from a customer",
        "fwd-1@shop.example",
    ),
    "forwarded_with_note.eml": (
        "sam@shop.example",
        "Sam Lee",
        "Customers love the new packaging, see below.",
        "Fwd: Praise",
        "fwd-2@shop.example",
    ),
    "with_attachments.eml": (
        "ana@empresa.example",
        "Ana Souza",
        "O produto chegou quebrado, seguem as fotos.",
        "Produto com defeito",
        "att-1@empresa.example",
    ),
    # Outlook's reply with its signature's logo embedded (image001.png) and a real attachment.
    "outlook_inline_logo.eml": (
        "chidi.okafor@logistik.example",
        "Okafor, Chidi",
        "Hello,\n\nThe invoice charges us for 12 pallets, we received 10. The corrected copy is attached.",
        "RE: Invoice 1042 is wrong",
        "invoice-1042@acme.example",
    ),
    "auto_submitted_no.eml": (
        "person@example.org",
        "Person",
        "Please add a dark mode.",
        "Suggestion",
        "human-1@example.org",
    ),
    # Best effort: a multipart without its boundary is read as its text; an unparseable date is no date.
    "malformed_boundary.eml": (
        "broken@example.org",
        "Broken Client",
        "The delivery driver was very friendly.",
        "Broken",
        "broken-1@example.org",
    ),
    # A charset Python does not know: read as UTF-8.
    "unknown_charset.eml": (
        "old@example.org",
        "Old Client",
        "Café was great.",
        "Hello",
        "charset-1@example.org",
    ),
    # 8-bit UTF-8 under no charset (scripts, old clients) or labelled Latin-1: read as the UTF-8 it is.
    "utf8_without_charset.eml": (
        "jana@web.example",
        "Jana Weber",
        "Das Paket kam zu spät, der Karton war beschädigt – 5 € Versand umsonst.",
        "Lieferung",
        "nocharset-1@web.example",
    ),
    "utf8_labelled_latin1.eml": (
        "luc@mail.example",
        "Luc Martin",
        "Très déçu : la commande est arrivée sans la notice.",
        "Commande",
        "mislabelled-1@mail.example",
    ),
    # The whole From mailbox in one encoded word (Python's legacy email API, older PHP mailers).
    "from_whole_mailbox_encoded.eml": (
        "elodie@maison.example",
        "Élodie Bernard",
        "Le café était froid à l'arrivée.",
        "Café froid",
        "whole-mailbox-1@maison.example",
    ),
    # Forwarded as an attachment (Outlook's Forward as Attachment) with nothing written: the forwarded text.
    "forwarded_as_attachment.eml": (
        "angry@example.net",
        "Angry Customer",
        "The blender broke after two days and the store will not take it back.",
        "Fw: Broken blender",
        "fwd-att-1@shop.example",
    ),
    # An empty body: the subject is the feedback.
    "no_message_id_subject_only.eml": (
        "quick@example.org",
        None,
        "App crashes on login",
        "App crashes on login",
        None,
    ),
}

AUTOMATIC = {
    "out_of_office.eml": "auto_submitted",
    # Older Exchange: no header says it, its subject does.
    "out_of_office_exchange_autoreply.eml": "auto_reply",
    # Exchange's non-delivery report as plain mail (X-MS-Exchange-Message-Is-Ndr, "Undeliverable:").
    "ndr_exchange_plain.eml": "bounce",
    # The calendar client's answer to an invitation (iTIP REPLY): no one wrote it.
    "calendar_accepted.eml": "calendar_reply",
    "x_autoreply.eml": "auto_reply",
    "precedence_bulk.eml": "bulk_precedence",
    "bounce.eml": "bounce",
    "read_receipt.eml": "read_receipt",
}


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", sorted(FEEDBACK))
def test_each_mail_becomes_the_customers_new_words_with_author_subject_and_thread(name: str):
    email, author_name, text, subject, thread = FEEDBACK[name]
    mail = parse(_raw(name))
    assert mail.automatic is None
    assert mail.author.email == email
    assert mail.author.name == author_name
    assert mail.text == text
    if subject is not None:
        assert mail.subject == subject
    assert mail.thread_id == (thread or mail.external_id)


def test_every_fixture_is_in_a_table():
    assert {path.name for path in FIXTURES.glob("*.eml")} == set(FEEDBACK) | set(RELAYED) | set(
        FORWARDS
    ) | set(AUTOMATIC) | {"not_a_mail.eml"}


@pytest.mark.parametrize(("name", "reason"), sorted(AUTOMATIC.items()))
def test_automatic_mail_is_marked_with_its_reason(name: str, reason: str):
    assert parse(_raw(name)).automatic == reason


@pytest.mark.parametrize(
    ("subject", "automatic"),
    [
        ("Automatic reply: Your order", True),
        ("Out of Office: back Monday", True),
        ("Réponse automatique : absent", True),
        ("Abwesenheitsnotiz: Urlaub", True),
        ("Automatisch antwoord: afwezig", True),
        ("Autosvar: Semester", True),
        ("Out of office hours support is useless", False),
        ("Re: automatic reply from your bot was rude", False),
    ],
)
def test_out_of_office_subjects_are_automatic_only_as_a_responders_prefix(subject: str, automatic: bool):
    raw = f"From: a@b.example\r\nSubject: {subject}\r\nMessage-ID: <s-1@b.example>\r\n\r\nText\r\n"
    assert (parse(raw.encode()).automatic == "auto_reply") is automatic


@pytest.mark.parametrize(
    ("subject", "bounce"),
    [
        ("Mail delivery failed: returning message to sender", True),  # Exim
        ("Undelivered Mail Returned to Sender", True),  # Postfix
        ("Delivery Status Notification (Failure)", True),  # Gmail
        ("Undeliverable: Your receipt", True),  # Exchange
        ("Undeliverable parcel, again", False),  # a customer's words
    ],
)
def test_delivery_failures_sent_as_plain_mail_are_bounces_by_their_subject(subject: str, bounce: bool):
    raw = (
        f"From: Mail System <mail@mx.example>\r\nSubject: {subject}\r\nMessage-ID: <b-1@mx.example>\r\n\r\nx"
    )
    assert (parse(raw.encode()).automatic == "bounce") is bounce


@pytest.mark.parametrize(
    ("envelope_sender", "automatic"), [("", "null_sender"), ("<>", "null_sender"), (None, None)]
)
def test_a_mail_sent_with_the_null_reverse_path_is_automatic(
    envelope_sender: str | None, automatic: str | None
):
    """RFC 3834's vacation responders and every delivery report use MAIL FROM:<>; None (unknown) is not."""
    raw = (
        b"From: Carla <carla@example.org>\r\nSubject: Re: Your ticket\r\nMessage-ID: <v-1@e.example>\r\n\r\n"
    )
    assert parse(raw + b"I'm away until Monday.\r\n", envelope_sender=envelope_sender).automatic == automatic


def test_the_feedback_id_derives_from_the_message_id_so_a_second_delivery_collides():
    mail = parse(_raw("gmail_reply_en.eml"))
    assert mail.external_id == "CAF=abc123XYZ@mail.gmail.example"
    event = to_event(mail, source_id="src_mail", recipient="feedback@acme.example", received_at=RECEIVED)
    again = to_event(
        parse(_raw("gmail_reply_en.eml")),
        source_id="src_mail",
        recipient="x@acme.example",
        received_at=RECEIVED,
    )
    assert event.feedback_id == again.feedback_id == feedback_id_for("src_mail", mail.external_id)
    assert event.channel is Channel.EMAIL and event.kind is Kind.MESSAGE
    assert event.occurred_at == datetime(2024, 12, 3, 10, 2, 45, tzinfo=UTC)
    assert event.metadata == {"subject": "Re: Your order #1042", "recipient": "feedback@acme.example"}


@pytest.mark.parametrize(
    ("date", "occurred_at"),
    [
        ("Tue, 1 Jan 2036 10:00:00 +0000", RECEIVED),  # a sender's clock years ahead
        ("Thu, 5 Dec 2024 00:00:30 +0000", RECEIVED),  # half a minute after it arrived
        ("Wed, 4 Dec 2024 23:59:00 +0000", datetime(2024, 12, 4, 23, 59, tzinfo=UTC)),
    ],
)
def test_a_mail_is_never_dated_after_it_arrived(date: str, occurred_at: datetime):
    raw = f"From: a@b.example\r\nDate: {date}\r\nMessage-ID: <d-1@b.example>\r\n\r\nText\r\n"
    event = to_event(parse(raw.encode()), source_id="s_1", recipient="f@a.example", received_at=RECEIVED)
    assert event.occurred_at == occurred_at


def test_a_mail_without_message_id_is_identified_by_its_bytes():
    first, second = (
        parse(_raw("no_message_id_subject_only.eml")),
        parse(_raw("no_message_id_subject_only.eml")),
    )
    assert first.external_id == second.external_id and first.external_id.startswith("sha256:")
    other = parse(_raw("no_message_id_subject_only.eml").replace(b"crashes", b"freezes"))
    assert other.external_id != first.external_id


def test_attachment_names_go_to_metadata_and_their_content_nowhere():
    event = to_event(
        parse(_raw("with_attachments.eml")),
        source_id="src_mail",
        recipient="f@a.example",
        received_at=RECEIVED,
    )
    assert event.metadata["attachments"] == "foto 1.jpg, nota fiscal nº 7.pdf"
    assert event.metadata["attachment_count"] == 2
    dumped = event.model_dump_json()
    assert "JVBERi0" not in dumped and "/9j/4AAQ" not in dumped


def test_images_the_html_body_shows_in_place_are_no_attachments_and_the_real_ones_are():
    mail = parse(_raw("outlook_inline_logo.eml"))
    assert mail.attachments == ["Invoice 1042 corrected.pdf"]
    # Without the closing line, the name and Outlook's "[cid:image001.png@…]" placeholder end the text.
    unsigned = parse(_raw("outlook_inline_logo.eml").replace(b"Kind regards\r\nChidi Okafor\r\n", b""))
    assert unsigned.text.endswith("The corrected copy is attached.")


@pytest.mark.parametrize(
    ("image_headers", "container", "listed"),
    [
        # Gmail's pasted or signature image: a component of the related HTML body.
        ('Content-Disposition: inline; filename="logo.png"\r\nContent-ID: <ii_m4x1>', "related", False),
        # Apple Mail's attached photo: inline, referenced by the HTML, but in multipart/mixed.
        ('Content-Disposition: inline; filename="IMG_0042.jpeg"\r\nContent-ID: <A1B2@apple>', "mixed", True),
        # Marked as an attachment, or without a Content-ID: attached, wherever it sits.
        ('Content-Disposition: attachment; filename="photo.png"\r\nContent-ID: <p1>', "related", True),
        ('Content-Disposition: inline; filename="photo.png"', "related", True),
    ],
)
def test_an_image_is_embedded_only_as_a_content_id_component_of_the_related_body(
    image_headers: str, container: str, listed: bool
):
    raw = (
        "From: a@b.example\r\nMessage-ID: <i-1@b.example>\r\n"
        f'Content-Type: multipart/{container}; boundary="b"\r\n\r\n'
        '--b\r\nContent-Type: text/html\r\n\r\n<p>Broken on arrival.</p><img src="cid:ii_m4x1">\r\n'
        f"--b\r\nContent-Type: image/png\r\n{image_headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n--b--\r\n"
    )
    mail = parse(raw.encode())
    assert mail.text == "Broken on arrival."
    assert (len(mail.attachments) == 1) is listed


def test_html_only_and_forwarded_mail_are_flagged_in_metadata():
    html = to_event(
        parse(_raw("html_only.eml")), source_id="s_1", recipient="f@a.example", received_at=RECEIVED
    )
    forwarded = to_event(
        parse(_raw("forwarded_gmail.eml")), source_id="s_1", recipient="f@a.example", received_at=RECEIVED
    )
    attached = to_event(
        parse(_raw("forwarded_as_attachment.eml")),
        source_id="s_1",
        recipient="f@a.example",
        received_at=RECEIVED,
    )
    assert html.metadata["html_only"] is True and "forwarded" not in html.metadata
    assert forwarded.metadata["forwarded"] is True
    assert attached.metadata["forwarded"] is True
    assert attached.metadata["attachments"] == "Broken blender.eml"


def test_content_language_is_the_items_language_and_the_source_default_only_a_hint():
    french = to_event(
        parse(_raw("apple_mail_fr.eml")), source_id="s_1", recipient="f@a.example", received_at=RECEIVED
    )
    assert french.language == "fr" and french.language_hint is None
    plain = to_event(
        parse(_raw("iphone_es.eml")),
        source_id="s_1",
        recipient="f@a.example",
        received_at=RECEIVED,
        language_hint="es",
    )
    assert plain.language is None and plain.language_hint == "es"


def test_a_missing_from_falls_back_to_the_envelope_sender():
    raw = b"To: feedback@acme.example\r\nSubject: Hi\r\nMessage-ID: <x-1@e.example>\r\n\r\nNice shop.\r\n"
    assert parse(raw).author.email is None
    assert parse(raw, envelope_sender="Buyer@E.example").author.email == "buyer@e.example"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        ((FIXTURES / "not_a_mail.eml").read_bytes(), "not_a_mail"),
    ],
)
def test_what_is_no_mail_at_all_is_refused_with_a_reason(raw: bytes, reason: str):
    with pytest.raises(MailRefused) as refused:
        parse(raw)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "raw",
    [
        b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/pl",
        b"From: =?utf-8?B?!!!?= <a@b.example>\r\nSubject: =?bogus?Q?x?=\r\n\r\nbody\r\n",
        b"From: a@b.example\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n",
        b"From: <<<>>>\r\nMessage-ID: " + b"<" + b"x" * 2000 + b"@e>\r\n\r\ntext\r\n",
        b"Subject: \xff\xfe\r\nDate: Mon, 99 Foo 2024 99:99:99 +9999\r\n\r\n\xff\xfe text\r\n",
        # No address in From (an unclosed quote, two @), bytes that are no UTF-8 in Message-ID, a NUL in the
        # text's charset.
        b'From: "ann@kunde.example@acme.example\r\nMessage-ID: <q-1@e.example>\r\n\r\ntext\r\n',
        b"From: a@b.example\r\nMessage-ID: <;t-1@fi\xf6\xd9\x11\xb8rma.example>\r\n\r\ntext\r\n",
        b"From: a@b.example\r\nContent-Type: text/plain; charset=ISO-8859\x00-1\r\n\r\nCaf\xe9\r\n",
        b'From: a@b.example\r\nContent-Type: text/enriched; charset="a\x00b"\r\n\r\nCaf\xe9\r\n',
        # An attachment whose charset parameter holds a NUL and whose bytes are not ASCII.
        b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n\r\nhi\r\n--x\r\n'
        b'Content-Type: image/png; charset="a\x00b"; name="p.png"\r\n\r\nx\xff\r\n--x--\r\n',
    ],
)
def test_malformed_mime_never_crashes_and_still_makes_a_valid_event(raw: bytes):
    mail = parse(raw)
    event = to_event(mail, source_id="s_1", recipient="f@a.example", received_at=RECEIVED)
    assert len(event.external_id) <= 512 and len(event.thread_id or "") <= 512
    assert event.model_dump_json()  # what the queue sends: no lone surrogate


# Reply styles as text, beyond the fixtures: (body, the new words).
QUOTE_STYLES = [
    ("Thanks!\n\nOn Mon, Dec 2, 2024 at 9:15 AM Bob <b@x.example> wrote:\n> hi", "Thanks!"),
    ("Merci.\n\nLe lun. 2 déc. 2024 à 09:15, Bob <b@x.example> a écrit :\n> salut", "Merci."),
    ("Danke.\n\nAm Mo., 2. Dez. 2024 um 09:15 Uhr schrieb Bob <b@x.example>:\n> hallo", "Danke."),
    ("Gracias.\n\nEl lun, 2 dic 2024 a las 9:15, Bob (<b@x.example>) escribió:\n> hola", "Gracias."),
    ("Grazie.\n\nIl giorno lun 2 dic 2024 alle ore 09:15 Bob <b@x.example> ha scritto:\n> ciao", "Grazie."),
    ("Obrigado.\n\nEm seg., 2 de dez. de 2024 às 09:15, Bob <b@x.example> escreveu:\n> oi", "Obrigado."),
    ("Bedankt.\n\nOp ma 2 dec. 2024 om 09:15 schreef Bob <b@x.example>:\n> hoi", "Bedankt."),
    ("Fine.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: me\nSubject: x\n\nold", "Fine."),
    (
        "Très bien.\n\nDe : Bob <b@x.example>\nEnvoyé : lundi 2 décembre 2024 09:15\nÀ : moi\nObjet : x\n",
        "Très bien.",
    ),
    ("Bueno.\n\nDe: Bob\nEnviado: lunes\nPara: yo\nAsunto: x\n\nviejo", "Bueno."),
    ("Inline one\n> quoted\nInline two\n> more quoted", "Inline one\nInline two"),
    ("Love it.\n-- \nBob\nCEO", "Love it."),
    ("Love it.\n\nSent from my Galaxy", "Love it."),
    ("Love it.\n\nVon meinem iPhone gesendet", "Love it."),
    ("Love it.\n\nGet Outlook for Android", "Love it."),
    ("Love it.\n\nThis email and any attachments are confidential and intended solely for ...", "Love it."),
    ("Love it.\n\nDiese E-Mail enthält vertrauliche Informationen.", "Love it."),
    # A closing line and the name block after it are the signature, in the languages the quotes cover.
    ("The parcel was late.\n\nMit freundlichen Grüßen\nJana Weber", "The parcel was late."),
    (
        "Colis en retard.\n\nCordialement,\nMarie Dupont\nResponsable achats\n+33 1 23 45 67 89",
        "Colis en retard.",
    ),
    ("Muy lento.\n\nUn saludo,\nAna", "Muy lento."),
    ("Great support!\nBest regards,\nBob Smith\nAcme Ltd", "Great support!"),
    ("Te laat.\n\nMet vriendelijke groet,\nPiet", "Te laat."),
    # A closing that ends the mail, or one followed by more words than a name block, is the customer's text.
    ("Great support!\nThanks!", "Great support!\nThanks!"),
    (
        "Slow.\nThanks,\n"
        + "\n".join(
            f"and then the courier left the parcel at the wrong door, number {n} again" for n in range(3)
        ),
        "Slow.\nThanks,\n"
        + "\n".join(
            f"and then the courier left the parcel at the wrong door, number {n} again" for n in range(3)
        ),
    ),
    # Bottom-posted replies: the header and the `>` quote above, the new words under them.
    (
        "On Mon, 1 Dec 2026 at 10:00, Support <s@x.example> wrote:\n> Did the fix work?\n\n"
        "No, it still crashes on login.\n\n-- \nJane",
        "No, it still crashes on login.",
    ),
    (
        "On Mon, 1 Dec 2026 at 10:00, Support <s@x.example>\nwrote:\n> Fixed?\n\nNope.\n> Try again?\nDone.",
        "Nope.\nDone.",
    ),
    # Under an Outlook block or a separator the quoted mail has no `>`: nothing under it is new words.
    ("-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: me\nSubject: x\n\nold words", ""),
    # A line that merely starts with "On" is the customer's text.
    ("On the whole the service was good.\nThanks", "On the whole the service was good.\nThanks"),
    # "From:" in the customer's own words, without the header block after it, is text too.
    ("From: my experience, shipping is slow.", "From: my experience, shipping is slow."),
]


@pytest.mark.parametrize(("body", "expected"), QUOTE_STYLES)
def test_reply_styles_of_the_major_clients_leave_only_the_new_words(body: str, expected: str):
    assert new_words(body).text == expected


@pytest.mark.parametrize(
    ("text", "author_name", "expected"),
    [
        ("The parcel came a week late.\n\nJane", "Jane Doe", "The parcel came a week late."),
        ("The parcel came a week late.\n- Jane Doe", "Jane Doe", "The parcel came a week late."),
        ("Great shop!\n\njane.", "Jane", "Great shop!"),
        ("Jane", "Jane Doe", "Jane"),  # all the text: kept
        ("Ask for Jane\nJane was great", "Jane Doe", "Ask for Jane\nJane was great"),
        ("Late again.\n\nJane", None, "Late again.\n\nJane"),  # no name to know it by
        # Outlook's "Last, First" display name: the customer signs "First Last" or "First".
        ("Wrong invoice.\n\nChidi Okafor", "Okafor, Chidi", "Wrong invoice."),
        ("Wrong invoice.\nChidi", "Okafor, Chidi", "Wrong invoice."),
    ],
)
def test_a_last_line_that_is_only_the_authors_name_is_a_sign_off(
    text: str, author_name: str | None, expected: str
):
    assert without_sign_off(text, author_name) == expected
    raw = f'From: "{author_name or "x"}" <a@b.example>\r\nMessage-ID: <n-1@b.example>\r\n\r\n{text}\r\n'
    if author_name:
        assert parse(raw.replace("\n", "\r\n").replace("\r\r", "\r").encode()).text == expected


@pytest.mark.parametrize(
    ("parameters", "body", "expected"),
    [
        (
            "; format=flowed",
            "The parcel came a week late and the box was \r\ncrushed. Please refund \r\nme.\r\n\r\n"
            "On Mon, Bob <b@x.example> wrote:\r\n> Did it \r\n> arrive?\r\n\r\n-- \r\nJane\r\n",
            "The parcel came a week late and the box was crushed. Please refund me.",
        ),
        ("; format=flowed; delsp=yes", "The box was cru \r\nshed.\r\n", "The box was crushed."),
        ("", "Fixed lines stay \r\nas sent.\r\n", "Fixed lines stay\nas sent."),  # not flowed
    ],
)
def test_format_flowed_soft_line_breaks_are_joined(parameters: str, body: str, expected: str):
    raw = (
        "From: Jane <j@x.example>\r\nMessage-ID: <flowed-1@x.example>\r\n"
        f"Content-Type: text/plain; charset=utf-8{parameters}\r\n\r\n{body}"
    )
    assert parse(raw.encode()).text == expected


def test_html_quotes_of_each_client_are_left_out():
    outlook = '<p>New words</p><div id="divRplyFwdMsg"><b>From:</b> Bob</div><p>old mail</p>'
    apple = '<div>New words</div><blockquote type="cite"><div>old</div></blockquote>'
    yahoo = '<div>New words</div><div class="yahoo_quoted">old</div>'
    assert html_to_text(outlook) == html_to_text(apple) == html_to_text(yahoo) == "New words"
    assert html_to_text("<script>alert(1)</script><p>a&nbsp;b &lt;c&gt;</p>") == "a b <c>"


@pytest.mark.parametrize(
    ("header_block", "author"),
    [
        ("From: Angry Customer <angry@example.net>\nDate: Mon", ("angry@example.net", "Angry Customer")),
        ("*From:* Kunde <kunde@example.de>\n*Sent:* Mon", ("kunde@example.de", "Kunde")),
        ("Von: Kunde <KUNDE@example.de>\nGesendet: Mo", ("kunde@example.de", "Kunde")),
        # Outlook may name the sender without an address: the forwarder stays the author.
        ("From: Angry Customer\nSent: Monday", ("sam@shop.example", "Sam Lee")),
    ],
)
def test_a_forward_with_nothing_written_is_the_forwarded_senders(header_block: str, author: tuple):
    body = f"---------- Forwarded message ---------\n{header_block}\nSubject: Broken\n\nIt broke."
    raw = f"From: Sam Lee <sam@shop.example>\nMessage-ID: <fw-9@shop.example>\n\n{body}\n"
    mail = parse(raw.replace("\n", "\r\n").encode())
    assert (mail.author.email, mail.author.name, mail.text, mail.forwarded) == (*author, "It broke.", True)
    noted = parse(
        raw.replace("---------- Forwarded", "See below.\n\n---------- Forwarded")
        .replace("\n", "\r\n")
        .encode()
    )
    assert (noted.author.email, noted.text) == ("sam@shop.example", "See below.")  # the note is Sam's


def test_words_written_above_a_mail_forwarded_as_attachment_are_the_text_not_the_attached_mails():
    raw = (
        (FIXTURES / "forwarded_as_attachment.eml")
        .read_bytes()
        .replace(b"<div><br></div>", b"<div>Please call this customer back today.</div>")
    )
    mail = parse(raw)
    assert mail.text == "Please call this customer back today."
    assert mail.forwarded is True and mail.html_only is True
