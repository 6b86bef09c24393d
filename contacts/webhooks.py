"""LiveDesk's webhook endpoint, POST /webhooks/livedesk/: thin, like the pages.

No login and no CSRF token: a delivery is LiveDesk's when it carries a valid signature
(X-Chatwoot-Signature over X-Chatwoot-Timestamp and the body) or the secret as `?token=`.
Every answer is a short JSON object: 404 while LIVEDESK_WEBHOOK_SECRET is unset (webhooks off),
405 for anything but POST, 413 for a body over LIVEDESK_WEBHOOK_MAX_BYTES, 401 for a missing or
wrong signature or token, 400 for a body or contact this app refuses, 202 for an event it does
not use, 200 with what was done otherwise (duplicate deliveries included).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from contacts.services.webhooks import WebhookOutcome, webhook_authenticate, webhook_receive

logger = logging.getLogger(__name__)

STATUS = {WebhookOutcome.REFUSED: 400, WebhookOutcome.IGNORED: 202}


@csrf_exempt
def livedesk_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.LIVEDESK_WEBHOOK_SECRET
    if not secret:
        return _error(404, "Not found.")
    if request.method != "POST":
        response = _error(405, "Only POST is allowed.")
        response["Allow"] = "POST"
        return response
    limit = settings.LIVEDESK_WEBHOOK_MAX_BYTES
    too_big = _error(413, f"The body is larger than {limit} bytes.")
    if _declared_length(request) > limit:
        return too_big
    try:
        body = request.body
    except RequestDataTooBig:
        return too_big
    except RawPostDataException:  # a multipart form, read by a middleware
        return _error(400, "Send the event as a JSON body.")
    if len(body) > limit:
        return too_big
    now = timezone.now()
    authentication = webhook_authenticate(
        secret=secret,
        body=body,
        signature=request.headers.get("X-Chatwoot-Signature", ""),
        timestamp=request.headers.get("X-Chatwoot-Timestamp", ""),
        token=request.GET.get("token", ""),
        now=now,
        max_skew_seconds=settings.LIVEDESK_WEBHOOK_MAX_SKEW_SECONDS,
    )
    if not authentication.accepted:
        logger.warning("Webhook delivery refused: %s", authentication.reason)
        return _error(401, authentication.reason)
    result = webhook_receive(
        body=body,
        event_at=authentication.event_at,
        delivery_id=request.headers.get("X-Chatwoot-Delivery", ""),
        received_at=now,
    )
    status = STATUS.get(result.outcome, 200)
    if result.outcome == WebhookOutcome.REFUSED:
        logger.warning("Webhook delivery refused: %s", result.detail)
        return _error(status, result.detail)
    answer = {"status": result.outcome.value, "detail": result.detail, "event": result.event}
    if result.remote_id is not None:
        answer["contact"] = result.remote_id
    return JsonResponse(answer, status=status)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
