"""`trustpilot`: Trustpilot's service-review webhooks (Trustpilot Business → Integrations → Developers →
Webhooks), body `{"events": [{"eventName", "version", "eventData": {…review…}}]}`.

What it stores, skips and why, and how it verifies: README.md#channel-trustpilot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, StrictInt

from chalicelib.channels import signatures
from chalicelib.channels.base import Channel, Delivery, SignedRequest, Skipped, WebhookRequest, feedback_event
from chalicelib.channels.exceptions import SignatureInvalid, SignatureMissing
from chalicelib.channels.payloads import PlatformObject, one_of
from chalicelib.models import Author, FeedbackEvent, Kind, PlatformDeletion, RatingScale, feedback_id_for
from chalicelib.models import Channel as ChannelName

TOKEN_PARAMETER = "token"  # noqa: S105 - the query parameter's name, not a secret
CREATED = "service-review-created"
UPDATED = "service-review-updated"
DELETED = "service-review-deleted"
MAX_EVENTS = 100
REVIEW_PAGE = "https://www.trustpilot.com/reviews/{id}"


class TrustpilotConsumer(PlatformObject):
    id: str | None = Field(default=None, max_length=200)
    # Names are cut to the product's bound when stored, not refused.
    name: str | None = None
    # The review APIs call it displayName; accepted in case a webhook version does too.
    displayName: str | None = None


class TrustpilotReview(PlatformObject):
    """A service review's `eventData` as the webhook documentation shows it (the fields read here).

    Fields keep Trustpilot's camelCase names so the model reads as the documented payload.
    """

    id: str = Field(min_length=1, max_length=200)
    # A JSON integer, as Trustpilot documents it (never a boolean or a string).
    stars: StrictInt = Field(ge=1, le=5)
    title: str = ""
    text: str = ""
    language: str | None = Field(default=None, max_length=35)
    createdAt: datetime
    updatedAt: datetime | None = None
    referenceId: str | None = Field(default=None, max_length=200)
    isVerified: bool | None = None
    locationId: str | None = Field(default=None, max_length=200)
    consumer: TrustpilotConsumer = Field(default_factory=TrustpilotConsumer)


class OtherEvent(PlatformObject):
    """An event that adds no customer text (a type this channel does not read)."""

    eventName: str


class ReviewEvent(OtherEvent):
    """A review created or updated."""

    eventData: TrustpilotReview


class DeletedReview(PlatformObject):
    id: str = Field(min_length=1, max_length=200)


class DeletedEvent(OtherEvent):
    """A review its author deleted: `eventData` holds only the review's id."""

    eventData: DeletedReview


def _event_shape(event: Any) -> type[OtherEvent]:
    name = event.get("eventName") if isinstance(event, dict) else None
    if name in (CREATED, UPDATED):
        return ReviewEvent
    return DeletedEvent if name == DELETED else OtherEvent


class TrustpilotPayload(PlatformObject):
    events: list[Annotated[ReviewEvent | DeletedEvent | OtherEvent, one_of(_event_shape)]] = Field(
        min_length=1, max_length=MAX_EVENTS
    )


def review_text(review: TrustpilotReview) -> str:
    """Title and body as one text, separated by a blank line; either may be empty."""
    return "\n\n".join(part.strip() for part in (review.title, review.text) if part and part.strip())


class TrustpilotChannel(Channel):
    type = "trustpilot"
    payload_model = TrustpilotPayload
    secret_names = (TOKEN_PARAMETER,)
    generated_secrets = (TOKEN_PARAMETER,)
    # Nothing to configure besides the token: the events say which review they concern.
    setting_help = {}
    console_help = (
        "In Trustpilot Business → Integrations → Developers → Webhooks, add a subscription for "
        "'Service reviews' (new, updated and deleted reviews) with the URL https://<api>/webhooks/<source_id>"
        "?token=<the generated token>, then press Test and save."
    )

    signs_body = False  # the token in the subscription URL

    def verify(self, request: WebhookRequest) -> None:
        provided = request.query.get(TOKEN_PARAMETER)
        if not provided:
            raise SignatureMissing(f"?{TOKEN_PARAMETER}=")
        if not signatures.constant_time_in(provided, request.secrets.accepted(TOKEN_PARAMETER)):
            raise SignatureInvalid("The token in the URL does not match the source's token.")

    def sign(self, body: bytes, secrets: Mapping[str, str], now: datetime) -> SignedRequest:
        return SignedRequest(query={TOKEN_PARAMETER: secrets[TOKEN_PARAMETER]})

    def normalize(self, request: WebhookRequest, payload: TrustpilotPayload) -> Delivery:
        feedback, skipped, deletions = [], [], []
        for index, event in enumerate(payload.events):
            if isinstance(event, ReviewEvent):
                feedback.append(self._event(request, event))
            elif isinstance(event, DeletedEvent):
                # The stored review (its id is the external_id of every version) is marked, not removed.
                deletions.append(
                    PlatformDeletion(
                        feedback_id=feedback_id_for(request.source.source_id, event.eventData.id),
                        source_id=request.source.source_id,
                        deleted_at=request.received_at,
                    )
                )
            else:
                skipped.append(Skipped("not_feedback_event", index))  # no customer text to add
        return Delivery(events=feedback, skipped=skipped, deletions=deletions)

    def _event(self, request: WebhookRequest, event: ReviewEvent) -> FeedbackEvent:
        review = event.eventData
        updated = event.eventName == UPDATED
        return feedback_event(
            request,
            channel=ChannelName.TRUSTPILOT,
            kind=Kind.REVIEW,
            external_id=review.id,
            text=review_text(review),
            occurred_at=review.createdAt,
            author=Author(
                channel_user_id=review.consumer.id,
                name=review.consumer.displayName or review.consumer.name,
            ),
            language=review.language,
            rating=review.stars,
            rating_scale=RatingScale.STARS,
            permalink=REVIEW_PAGE.format(id=quote(review.id, safe="")),
            metadata={
                "event_name": event.eventName,
                "review_id": review.id,
                "reference_id": review.referenceId,
                "is_verified": review.isVerified,
                "location_id": review.locationId,
                "edited": True if updated else None,
                "edited_at": review.updatedAt.isoformat() if updated and review.updatedAt else None,
            },
        )
