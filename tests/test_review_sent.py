"""Review findings in realtime_sync._session.sent."""

from __future__ import annotations

from realtime_sync._session.sent import SentEvents


def test_the_record_of_sent_events_keeps_no_image_data() -> None:
    # The record keeps the last 256 client events "small however much audio was
    # sent", but an input_image part's data URL (megabytes each) was kept whole.
    sent = SentEvents()
    data_url = "data:image/png;base64," + "A" * 1_000_000
    event = {
        "event_id": "evt_1",
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": data_url}]},
    }
    sent.add(event)
    kept = sent.get("evt_1")
    assert kept is not None
    assert len(repr(kept)) < 1000
    assert event["item"]["content"][0]["image_url"] is data_url  # the caller's event is untouched
