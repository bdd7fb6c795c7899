"""Tests for realtime_sync.dialects: the beta <-> GA wire translation.

Translated events are validated against the openai package's models: GA wire
events against ``openai.types.realtime`` (the GA dialect), beta-shaped events
against ``openai.types.beta.realtime``. Those models accept unknown fields
silently, so every validation also walks the parsed model and fails on fields
the model does not declare. The example payloads at the end of this module
are the ``x-oaiMeta.example`` of every event in OpenAI's published Realtime
OpenAPI specs (GA and beta), with long strings shortened.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import typing
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import pytest
from support_ga import undeclared_fields

from realtime_sync import audio as rs_audio
from realtime_sync import dialects
from realtime_sync.client import DEFAULT_SERVER_VAD_CONFIG, DEFAULT_SESSION_CONFIG
from realtime_sync.conversation import Conversation
from realtime_sync.dialects import (
    client_from_wire,
    client_to_wire,
    server_from_wire,
    server_to_wire,
)
from realtime_sync.errors import ConfigurationError

pydantic = pytest.importorskip("pydantic")
beta_types = pytest.importorskip("openai.types.beta.realtime")
ga_types = pytest.importorskip("openai.types.realtime")

Event = Dict[str, Any]


# -- strict validation against the openai models -----------------------------------

def _models_by_type(union: Any) -> Dict[str, Any]:
    """``{"response.done": ResponseDoneEvent, ...}`` from a discriminated union alias."""
    members = typing.get_args(typing.get_args(union)[0])
    table = {}
    for model in members:
        (event_type,) = typing.get_args(model.model_fields["type"].annotation)
        table[event_type] = model
    return table


GA_CLIENT = _models_by_type(ga_types.RealtimeClientEvent)
GA_SERVER = _models_by_type(ga_types.RealtimeServerEvent)
BETA_CLIENT = _models_by_type(beta_types.RealtimeClientEvent)
BETA_SERVER = _models_by_type(beta_types.RealtimeServerEvent)


# Fields the specs define but the openai models leave out: the session objects of
# session.created/updated carry id/object/expires_at (RealtimeSessionCreateResponse),
# while the models reuse the request type; GA added fields that beta never had.
_ALLOWED_UNDECLARED = {
    "session.id", "session.object", "session.expires_at",
    "obfuscation",  # GA transcription deltas
    "name",  # GA response.function_call_arguments.done names the function
    "response.usage.input_token_details.image_tokens",
    "response.usage.input_token_details.cached_tokens_details",
    "item.content[0].format",  # GA conversation.item.retrieved audio parts
}


def validate(table: Dict[str, Any], event: Event, allow: Iterable[str] = ()) -> Any:
    """Parse ``event`` with the model for its type; fail on undeclared fields."""
    assert event["type"] in table, f"{event['type']} is not an event of this dialect"
    model = table[event["type"]].model_validate(event)
    allowed = _ALLOWED_UNDECLARED.union(allow)
    extra = [field for field in undeclared_fields(model) if field not in allowed]
    assert extra == [], (event["type"], extra)
    return model


def _load(block: str) -> List[Event]:
    return [json.loads(line) for line in block.strip().splitlines()]


# -- beta client events as this library builds them ---------------------------------

def _client_events() -> List[Event]:
    """Every beta client event type, in the shapes client.py and users send."""
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    session = dict(DEFAULT_SESSION_CONFIG, tools=[tool])
    return [
        {"event_id": "evt_1", "type": "session.update", "session": session},
        {"event_id": "evt_2", "type": "session.update",
         "session": {"turn_detection": dict(DEFAULT_SERVER_VAD_CONFIG),
                     "input_audio_transcription": {"model": "whisper-1"}}},
        {"event_id": "evt_3", "type": "session.update",
         "session": {"modalities": ["text"], "input_audio_format": "g711_ulaw",
                     "output_audio_format": "g711_alaw", "voice": "verse", "speed": 1.1,
                     "turn_detection": None, "input_audio_transcription": None,
                     "input_audio_noise_reduction": {"type": "near_field"},
                     "tool_choice": "get_weather", "max_response_output_tokens": "inf",
                     "instructions": "Be brief.", "tracing": "auto"}},
        {"event_id": "evt_4", "type": "session.update",
         "session": {"turn_detection": {"type": "semantic_vad", "eagerness": "low",
                                        "threshold": 0.5, "silence_duration_ms": 500}}},
        {"event_id": "evt_5", "type": "session.update",
         "session": {"turn_detection": {"threshold": 0.6}, "tool_choice": "required"}},
        {"event_id": "evt_6", "type": "input_audio_buffer.append", "audio": "AAAA"},
        {"event_id": "evt_7", "type": "input_audio_buffer.commit"},
        {"event_id": "evt_8", "type": "input_audio_buffer.clear"},
        {"event_id": "evt_9", "type": "conversation.item.create",
         "item": {"type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": "Hello"},
                              {"type": "input_audio", "audio": "AAAA"}]}},
        {"event_id": "evt_10", "type": "conversation.item.create", "previous_item_id": "item_1",
         "item": {"id": "item_2", "type": "message", "role": "assistant",
                  "content": [{"type": "text", "text": "Earlier answer"}]}},
        {"event_id": "evt_11", "type": "conversation.item.create",
         "item": {"type": "message", "role": "system",
                  "content": [{"type": "input_text", "text": "Speak French."}]}},
        {"event_id": "evt_12", "type": "conversation.item.create",
         "item": {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\": 21}"}},
        {"event_id": "evt_13", "type": "conversation.item.create",
         "item": {"type": "function_call", "call_id": "call_2", "name": "get_weather",
                  "arguments": "{\"city\": \"Oslo\"}"}},
        {"event_id": "evt_14", "type": "conversation.item.truncate", "item_id": "item_2",
         "content_index": 0, "audio_end_ms": 1500},
        {"event_id": "evt_15", "type": "conversation.item.delete", "item_id": "item_2"},
        {"event_id": "evt_16", "type": "response.create"},
        {"event_id": "evt_17", "type": "response.create",
         "response": {"modalities": ["text", "audio"], "voice": "alloy",
                      "output_audio_format": "pcm16", "instructions": "Answer in one word.",
                      "temperature": 0.8, "max_response_output_tokens": 200,
                      "tools": [tool], "tool_choice": "auto", "conversation": "none",
                      "metadata": {"purpose": "summary"},
                      "input": [{"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": "Sum up."}]}]}},
        {"event_id": "evt_18", "type": "response.cancel"},
        {"event_id": "evt_19", "type": "response.cancel", "response_id": "resp_1"},
    ]


CLIENT_EVENTS = _client_events()


# -- example payloads from OpenAI's published Realtime OpenAPI specs ---------------
# (x-oaiMeta.example of each event, one JSON object a line; long strings shortened)

_GA_SERVER_EXAMPLES = r"""
{"event_id":"event_9101","type":"conversation.created","conversation":{"id":"conv_001","object":"realtime.conversation"}}
{"event_id":"event_1920","type":"conversation.item.created","previous_item_id":"msg_002","item":{"id":"msg_003","object":"realtime.item","type":"message","status":"completed","role":"user","content":[]}}
{"event_id":"event_2728","type":"conversation.item.deleted","item_id":"msg_005"}
{"type":"conversation.item.input_audio_transcription.completed","event_id":"event_CCXGRvtUVrax5SJAnNOWZ","item_id":"item_CCXGQ4e1ht4cOraEYcuR2","content_index":0,"transcript":"Hey, can you hear me?","usage":{"type":"tokens","total_tokens":22,"input_tokens":13,"input_token_details":{"text_tokens":0,"audio_tokens":13},"output_tokens":9}}
{"type":"conversation.item.input_audio_transcription.delta","event_id":"event_CCXGRxsAimPAs8kS2Wc7Z","item_id":"item_CCXGQ4e1ht4cOraEYcuR2","content_index":0,"delta":"Hey","obfuscation":"aLxx0jTEciOGe"}
{"event_id":"event_2324","type":"conversation.item.input_audio_transcription.failed","item_id":"msg_003","content_index":0,"error":{"type":"transcription_error","code":"audio_unintelligible","message":"The audio could not be transcribed.","param":null}}
{"type":"conversation.item.retrieved","event_id":"event_CCXGSizgEppa2d4XbKA7K","item":{"id":"item_CCXGRxbY0n6WE4EszhF5w","object":"realtime.item","type":"message","status":"completed","role":"assistant","content":[{"type":"audio","transcript":"Yes, I can hear you loud and clear. How can I help you to...","audio":"8//2//v/9//q/+//+P/s...","format":"pcm16"}]}}
{"event_id":"event_2526","type":"conversation.item.truncated","item_id":"msg_004","content_index":0,"audio_end_ms":1500}
{"event_id":"event_890","type":"error","error":{"type":"invalid_request_error","code":"invalid_event","message":"The 'type' field is missing.","param":null,"event_id":"event_567"}}
{"event_id":"event_1314","type":"input_audio_buffer.cleared"}
{"event_id":"event_1121","type":"input_audio_buffer.committed","previous_item_id":"msg_001","item_id":"msg_002"}
{"type":"input_audio_buffer.dtmf_event_received","event":"9","received_at":1763605109}
{"event_id":"event_1516","type":"input_audio_buffer.speech_started","audio_start_ms":1000,"item_id":"msg_003"}
{"event_id":"event_1718","type":"input_audio_buffer.speech_stopped","audio_end_ms":2000,"item_id":"msg_003"}
{"event_id":"event_5758","type":"rate_limits.updated","rate_limits":[{"name":"requests","limit":1000,"remaining":999,"reset_seconds":60},{"name":"tokens","limit":50000,"remaining":49950,"reset_seconds":60}]}
{"event_id":"event_4950","type":"response.output_audio.delta","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"delta":"Base64EncodedAudioDelta"}
{"event_id":"event_5152","type":"response.output_audio.done","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0}
{"event_id":"event_4546","type":"response.output_audio_transcript.delta","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"delta":"Hello, how can I a"}
{"event_id":"event_4748","type":"response.output_audio_transcript.done","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"transcript":"Hello, how can I assist you today?"}
{"event_id":"event_3738","type":"response.content_part.added","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"part":{"type":"text","text":""}}
{"event_id":"event_3940","type":"response.content_part.done","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"part":{"type":"text","text":"Sure, I can help with that."}}
{"type":"response.created","event_id":"event_C9G8pqbTEddBSIxbBN6Os","response":{"object":"realtime.response","id":"resp_C9G8p7IH2WxLbkgPNouYL","status":"in_progress","status_details":null,"output":[],"conversation_id":"conv_C9G8mmBkLhQJwCon3hoJN","output_modalities":["audio"],"max_output_tokens":"inf","audio":{"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"marin"}},"usage":null,"metadata":null}}
{"type":"response.done","event_id":"event_CCXHxcMy86rrKhBLDdqCh","response":{"object":"realtime.response","id":"resp_CCXHw0UJld10EzIUXQCNh","status":"completed","status_details":null,"output":[{"id":"item_CCXHwGjjDUfOXbiySlK7i","type":"message","status":"completed","role":"assistant","content":[{"type":"output_audio","transcript":"Loud and clear! I can hear you perfectly. How can I help ..."}]}],"conversation_id":"conv_CCXHsurMKcaVxIZvaCI5m","output_modalities":["audio"],"max_output_tokens":"inf","audio":{"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy"}},"usage":{"total_tokens":253,"input_tokens":132,"output_tokens":121,"input_token_details":{"text_tokens":119,"audio_tokens":13,"image_tokens":0,"cached_tokens":64,"cached_tokens_details":{"text_tokens":64,"audio_tokens":0,"image_tokens":0}},"output_token_details":{"text_tokens":30,"audio_tokens":91}},"metadata":null}}
{"event_id":"event_5354","type":"response.function_call_arguments.delta","response_id":"resp_002","item_id":"fc_001","output_index":0,"call_id":"call_001","delta":"{\"location\": \"San\""}
{"event_id":"event_5556","type":"response.function_call_arguments.done","response_id":"resp_002","item_id":"fc_001","output_index":0,"call_id":"call_001","name":"get_weather","arguments":"{\"location\": \"San Francisco\"}"}
{"event_id":"event_3334","type":"response.output_item.added","response_id":"resp_001","output_index":0,"item":{"id":"msg_007","object":"realtime.item","type":"message","status":"in_progress","role":"assistant","content":[]}}
{"event_id":"event_3536","type":"response.output_item.done","response_id":"resp_001","output_index":0,"item":{"id":"msg_007","object":"realtime.item","type":"message","status":"completed","role":"assistant","content":[{"type":"text","text":"Sure, I can help with that."}]}}
{"event_id":"event_4142","type":"response.output_text.delta","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"delta":"Sure, I can h"}
{"event_id":"event_4344","type":"response.output_text.done","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"text":"Sure, I can help with that."}
{"type":"session.created","event_id":"event_C9G5RJeJ2gF77mV7f2B1j","session":{"type":"realtime","object":"realtime.session","id":"sess_C9G5QPteg4UIbotdKLoYQ","model":"gpt-realtime-2025-08-28","output_modalities":["audio"],"instructions":"Your knowledge cutoff is 2023-10. You are a helpful, witt...","tools":[],"tool_choice":"auto","max_output_tokens":"inf","tracing":null,"prompt":null,"expires_at":1756324625,"audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"transcription":null,"noise_reduction":null,"turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,"idle_timeout_ms":null,"create_response":true,"interrupt_response":true}},"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"marin","speed":1}},"include":null}}
{"type":"session.updated","event_id":"event_C9G8mqI3IucaojlVKE8Cs","session":{"type":"realtime","object":"realtime.session","id":"sess_C9G8l3zp50uFv4qgxfJ8o","model":"gpt-realtime-2025-08-28","output_modalities":["audio"],"instructions":"Your knowledge cutoff is 2023-10. You are a helpful, witt...","tools":[{"type":"function","name":"display_color_palette","description":"\nCall this function when a user asks for a color palette.\n","parameters":{"type":"object","strict":true,"properties":{"theme":{"type":"string","description":"Description of the theme for the color scheme."},"colors":{"type":"array","description":"Array of five hex color codes based on the theme.","items":{"type":"string","description":"Hex color code"}}},"required":["theme","colors"]}}],"tool_choice":"auto","max_output_tokens":"inf","tracing":null,"prompt":null,"expires_at":1756324832,"audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"transcription":null,"noise_reduction":null,"turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,"idle_timeout_ms":null,"create_response":true,"interrupt_response":true}},"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"marin","speed":1}},"include":null}}
{"event_id":"event_abc123","type":"output_audio_buffer.started","response_id":"resp_abc123"}
{"event_id":"event_abc123","type":"output_audio_buffer.stopped","response_id":"resp_abc123"}
{"event_id":"event_abc123","type":"output_audio_buffer.cleared","response_id":"resp_abc123"}
{"type":"conversation.item.added","event_id":"event_C9G8pjSJCfRNEhMEnYAVy","previous_item_id":null,"item":{"id":"item_C9G8pGVKYnaZu8PH5YQ9O","type":"message","status":"completed","role":"user","content":[{"type":"input_text","text":"hi"}]}}
{"type":"conversation.item.done","event_id":"event_CCXLgMZPo3qioWCeQa4WH","previous_item_id":"item_CCXLecNJVIVR2HUy3ABLj","item":{"id":"item_CCXLfxmM5sXVJVz4mCa2S","type":"message","status":"completed","role":"assistant","content":[{"type":"output_audio","transcript":"Oh, I can hear you loud and clear! Sounds like we're conn..."}]}}
{"type":"input_audio_buffer.timeout_triggered","event_id":"event_CEKKrf1KTGvemCPyiJTJ2","audio_start_ms":13216,"audio_end_ms":19232,"item_id":"item_CEKKrWH0GiwN0ET97NUZc"}
{"event_id":"event_6501","type":"conversation.item.input_audio_transcription.segment","item_id":"msg_011","content_index":0,"text":"hello","id":"seg_0001","speaker":"spk_1","start":0.0,"end":0.4}
{"event_id":"event_6101","type":"mcp_list_tools.in_progress","item_id":"mcp_list_tools_001"}
{"event_id":"event_6102","type":"mcp_list_tools.completed","item_id":"mcp_list_tools_001"}
{"event_id":"event_6103","type":"mcp_list_tools.failed","item_id":"mcp_list_tools_001"}
{"event_id":"event_6201","type":"response.mcp_call_arguments.delta","response_id":"resp_001","item_id":"mcp_call_001","output_index":0,"delta":"{\"partial\":true}"}
{"event_id":"event_6202","type":"response.mcp_call_arguments.done","response_id":"resp_001","item_id":"mcp_call_001","output_index":0,"arguments":"{\"q\":\"docs\"}"}
{"event_id":"event_6301","type":"response.mcp_call.in_progress","output_index":0,"item_id":"mcp_call_001"}
{"event_id":"event_6302","type":"response.mcp_call.completed","output_index":0,"item_id":"mcp_call_001"}
{"event_id":"event_6303","type":"response.mcp_call.failed","output_index":0,"item_id":"mcp_call_001"}
"""

_BETA_CLIENT_EXAMPLES = r"""
{"event_id":"event_345","type":"conversation.item.create","previous_item_id":null,"item":{"id":"msg_001","type":"message","role":"user","content":[{"type":"input_text","text":"Hello, how are you?"}]}}
{"event_id":"event_901","type":"conversation.item.delete","item_id":"msg_003"}
{"event_id":"event_678","type":"conversation.item.truncate","item_id":"msg_002","content_index":0,"audio_end_ms":1500}
{"event_id":"event_456","type":"input_audio_buffer.append","audio":"Base64EncodedAudioData"}
{"event_id":"event_012","type":"input_audio_buffer.clear"}
{"event_id":"event_789","type":"input_audio_buffer.commit"}
{"event_id":"event_567","type":"response.cancel"}
{"event_id":"event_234","type":"response.create","response":{"modalities":["text","audio"],"instructions":"Please assist the user.","voice":"sage","output_audio_format":"pcm16","tools":[{"type":"function","name":"calculate_sum","description":"Calculates the sum of two numbers.","parameters":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}}],"tool_choice":"auto","temperature":0.8,"max_output_tokens":1024}}
{"event_id":"event_123","type":"session.update","session":{"modalities":["text","audio"],"instructions":"You are a helpful assistant.","voice":"sage","input_audio_format":"pcm16","output_audio_format":"pcm16","input_audio_transcription":{"model":"whisper-1"},"turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":500,"create_response":true},"tools":[{"type":"function","name":"get_weather","description":"Get the current weather...","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}],"tool_choice":"auto","temperature":0.8,"max_response_output_tokens":"inf"}}
"""

_BETA_SERVER_EXAMPLES = r"""
{"event_id":"event_9101","type":"conversation.created","conversation":{"id":"conv_001","object":"realtime.conversation"}}
{"event_id":"event_1920","type":"conversation.item.created","previous_item_id":"msg_002","item":{"id":"msg_003","object":"realtime.item","type":"message","status":"completed","role":"user","content":[{"type":"input_audio","transcript":"hello how are you","audio":"base64encodedaudio=="}]}}
{"event_id":"event_2728","type":"conversation.item.deleted","item_id":"msg_005"}
{"event_id":"event_2122","type":"conversation.item.input_audio_transcription.completed","item_id":"msg_003","content_index":0,"transcript":"Hello, how are you?"}
{"event_id":"event_2324","type":"conversation.item.input_audio_transcription.failed","item_id":"msg_003","content_index":0,"error":{"type":"transcription_error","code":"audio_unintelligible","message":"The audio could not be transcribed.","param":null}}
{"event_id":"event_2526","type":"conversation.item.truncated","item_id":"msg_004","content_index":0,"audio_end_ms":1500}
{"event_id":"event_890","type":"error","error":{"type":"invalid_request_error","code":"invalid_event","message":"The 'type' field is missing.","param":null,"event_id":"event_567"}}
{"event_id":"event_1314","type":"input_audio_buffer.cleared"}
{"event_id":"event_1121","type":"input_audio_buffer.committed","previous_item_id":"msg_001","item_id":"msg_002"}
{"event_id":"event_1516","type":"input_audio_buffer.speech_started","audio_start_ms":1000,"item_id":"msg_003"}
{"event_id":"event_1718","type":"input_audio_buffer.speech_stopped","audio_end_ms":2000,"item_id":"msg_003"}
{"event_id":"event_5758","type":"rate_limits.updated","rate_limits":[{"name":"requests","limit":1000,"remaining":999,"reset_seconds":60},{"name":"tokens","limit":50000,"remaining":49950,"reset_seconds":60}]}
{"event_id":"event_4950","type":"response.audio.delta","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"delta":"Base64EncodedAudioDelta"}
{"event_id":"event_5152","type":"response.audio.done","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0}
{"event_id":"event_4546","type":"response.audio_transcript.delta","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"delta":"Hello, how can I a"}
{"event_id":"event_4748","type":"response.audio_transcript.done","response_id":"resp_001","item_id":"msg_008","output_index":0,"content_index":0,"transcript":"Hello, how can I assist you today?"}
{"event_id":"event_3738","type":"response.content_part.added","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"part":{"type":"text","text":""}}
{"event_id":"event_3940","type":"response.content_part.done","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"part":{"type":"text","text":"Sure, I can help with that."}}
{"event_id":"event_2930","type":"response.created","response":{"id":"resp_001","object":"realtime.response","status":"in_progress","status_details":null,"output":[],"usage":null}}
{"event_id":"event_3132","type":"response.done","response":{"id":"resp_001","object":"realtime.response","status":"completed","status_details":null,"output":[{"id":"msg_006","object":"realtime.item","type":"message","status":"completed","role":"assistant","content":[{"type":"text","text":"Sure, how can I assist you today?"}]}],"usage":{"total_tokens":275,"input_tokens":127,"output_tokens":148,"input_token_details":{"cached_tokens":384,"text_tokens":119,"audio_tokens":8,"cached_tokens_details":{"text_tokens":128,"audio_tokens":256}},"output_token_details":{"text_tokens":36,"audio_tokens":112}}}}
{"event_id":"event_5354","type":"response.function_call_arguments.delta","response_id":"resp_002","item_id":"fc_001","output_index":0,"call_id":"call_001","delta":"{\"location\": \"San\""}
{"event_id":"event_5556","type":"response.function_call_arguments.done","response_id":"resp_002","item_id":"fc_001","output_index":0,"call_id":"call_001","arguments":"{\"location\": \"San Francisco\"}"}
{"event_id":"event_3334","type":"response.output_item.added","response_id":"resp_001","output_index":0,"item":{"id":"msg_007","object":"realtime.item","type":"message","status":"in_progress","role":"assistant","content":[]}}
{"event_id":"event_3536","type":"response.output_item.done","response_id":"resp_001","output_index":0,"item":{"id":"msg_007","object":"realtime.item","type":"message","status":"completed","role":"assistant","content":[{"type":"text","text":"Sure, I can help with that."}]}}
{"event_id":"event_4142","type":"response.text.delta","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"delta":"Sure, I can h"}
{"event_id":"event_4344","type":"response.text.done","response_id":"resp_001","item_id":"msg_007","output_index":0,"content_index":0,"text":"Sure, I can help with that."}
{"event_id":"event_1234","type":"session.created","session":{"id":"sess_001","object":"realtime.session","model":"gpt-4o-realtime-preview-2024-12-17","modalities":["text","audio"],"instructions":"...model instructions here...","voice":"sage","input_audio_format":"pcm16","output_audio_format":"pcm16","input_audio_transcription":null,"turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200},"tools":[],"tool_choice":"auto","temperature":0.8,"max_response_output_tokens":"inf"}}
{"event_id":"event_5678","type":"session.updated","session":{"id":"sess_001","object":"realtime.session","model":"gpt-4o-realtime-preview-2024-12-17","modalities":["text"],"instructions":"New instructions","voice":"sage","input_audio_format":"pcm16","output_audio_format":"pcm16","input_audio_transcription":{"model":"whisper-1"},"turn_detection":null,"tools":[],"tool_choice":"none","temperature":0.7,"max_response_output_tokens":200}}
"""


def _ids(events: Iterable[Event]) -> List[str]:
    return [f"{index}-{event['type']}" for index, event in enumerate(events)]


def _without_temperature(event: Event) -> Event:
    """``event`` minus the ``temperature`` fields the GA wire cannot carry."""
    result = copy.deepcopy(event)
    for key in ("session", "response"):
        if isinstance(result.get(key), dict):
            result[key].pop("temperature", None)
    return result


# -- protocols, models, headers ---------------------------------------------------

def test_protocols_models_and_headers() -> None:
    assert dialects.PROTOCOLS == ("beta", "ga")
    assert dialects.default_model("ga") == "gpt-realtime"
    assert dialects.default_model("beta") == "gpt-4o-realtime-preview-2024-10-01"
    assert dialects.handshake_headers("beta") == {"OpenAI-Beta": "realtime=v1"}
    assert dialects.handshake_headers("ga") == {}
    headers = dialects.handshake_headers("beta")
    headers["OpenAI-Beta"] = "changed"
    assert dialects.handshake_headers("beta") == {"OpenAI-Beta": "realtime=v1"}


@pytest.mark.parametrize("function", [
    dialects.default_model, dialects.handshake_headers, dialects.check_protocol,
    lambda protocol: client_to_wire({"type": "response.create"}, protocol),
    lambda protocol: client_from_wire({"type": "response.create"}, protocol),
    lambda protocol: server_from_wire({"type": "response.done"}, protocol),
    lambda protocol: server_to_wire({"type": "response.done"}, protocol),
])
@pytest.mark.parametrize("protocol", ["GA", "v1", "", None, "realtime"])
def test_unknown_protocol_is_a_configuration_error(function: Any, protocol: Any) -> None:
    with pytest.raises(ConfigurationError, match="'ga'.*'beta'"):
        function(protocol)


def test_beta_is_the_identity() -> None:
    events = (CLIENT_EVENTS + _load(_BETA_CLIENT_EXAMPLES) + _load(_BETA_SERVER_EXAMPLES)
              + _load(_GA_SERVER_EXAMPLES))
    for event in events:
        for function in (client_to_wire, client_from_wire, server_from_wire, server_to_wire):
            assert function(event, "beta") is event


# -- client events: beta model -> GA wire ----------------------------------------------

ALL_CLIENT_EVENTS = CLIENT_EVENTS + _load(_BETA_CLIENT_EXAMPLES)


@pytest.mark.parametrize("event", ALL_CLIENT_EVENTS, ids=_ids(ALL_CLIENT_EVENTS))
def test_client_event_to_ga_validates_and_leaves_the_input_alone(event: Event) -> None:
    # The input is a good beta event (the beta spec's own response.create example
    # spells max_response_output_tokens the GA way, which passes through as it is).
    validate(BETA_CLIENT, _without_temperature(event), allow={"response.max_output_tokens"})
    before = copy.deepcopy(event)
    wire = client_to_wire(event, "ga")
    assert event == before
    validate(GA_CLIENT, wire)
    assert wire["event_id"] == event["event_id"] if "event_id" in event else "event_id" not in wire
    assert "temperature" not in json.dumps(wire)


def test_every_beta_client_event_type_is_covered() -> None:
    assert {event["type"] for event in CLIENT_EVENTS} == set(BETA_CLIENT) - {
        "conversation.item.retrieve", "output_audio_buffer.clear", "transcription_session.update",
    }


def test_session_update_to_ga_exactly() -> None:
    wire = client_to_wire(CLIENT_EVENTS[2], "ga")
    assert wire == {
        "event_id": "evt_3",
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "instructions": "Be brief.",
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": "inf",
            "tracing": "auto",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "turn_detection": None,
                    "transcription": None,
                    "noise_reduction": {"type": "near_field"},
                },
                "output": {"format": {"type": "audio/pcma"}, "voice": "verse", "speed": 1.1},
            },
        },
    }


def test_default_session_config_to_ga() -> None:
    wire = client_to_wire(CLIENT_EVENTS[0], "ga")["session"]
    assert wire["type"] == "realtime"
    assert wire["output_modalities"] == ["audio"]  # GA audio always comes with a transcript
    assert wire["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert wire["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}
    assert wire["max_output_tokens"] == 4096
    assert "temperature" not in wire and "modalities" not in wire


def test_turn_detection_to_ga_fills_the_type_and_drops_what_the_type_does_not_take() -> None:
    semantic = client_to_wire(CLIENT_EVENTS[3], "ga")["session"]["audio"]["input"]["turn_detection"]
    assert semantic == {"type": "semantic_vad", "eagerness": "low"}
    server = client_to_wire(CLIENT_EVENTS[4], "ga")["session"]
    assert server["audio"]["input"]["turn_detection"] == {"type": "server_vad", "threshold": 0.6}
    assert server["tool_choice"] == "required"


def test_session_update_merges_beta_keys_into_ga_keys_the_caller_gave() -> None:
    event = {"type": "session.update", "session": {
        "type": "realtime", "voice": "marin",
        "audio": {"input": {"noise_reduction": None}, "output": {"speed": 1.2}},
    }}
    before = copy.deepcopy(event)
    wire = client_to_wire(event, "ga")
    assert event == before
    assert wire["session"]["audio"] == {"input": {"noise_reduction": None},
                                        "output": {"speed": 1.2, "voice": "marin"}}
    validate(GA_CLIENT, wire)


def test_items_to_ga_rename_assistant_parts_only() -> None:
    assistant = client_to_wire(CLIENT_EVENTS[9], "ga")["item"]
    assert assistant["content"] == [{"type": "output_text", "text": "Earlier answer"}]
    user = CLIENT_EVENTS[8]
    assert client_to_wire(user, "ga") is user  # nothing to change: nothing copied
    sloppy = {"type": "conversation.item.create", "item": {
        "role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "audio", "audio": "AAAA"}]}}
    wire = client_to_wire(sloppy, "ga")
    assert wire["item"] == {"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": "hi"},
                                        {"type": "input_audio", "audio": "AAAA"}]}
    validate(GA_CLIENT, wire)


def test_response_create_to_ga_exactly() -> None:
    wire = client_to_wire(CLIENT_EVENTS[16], "ga")["response"]
    assert wire["output_modalities"] == ["audio"]
    assert wire["audio"] == {"output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}}
    assert wire["max_output_tokens"] == 200
    assert "temperature" not in wire and "voice" not in wire and "output_audio_format" not in wire
    assert wire["input"] is CLIENT_EVENTS[16]["response"]["input"]  # unchanged parts are shared


def test_response_create_keeps_item_references() -> None:
    event = {"type": "response.create", "response": {"input": [
        {"type": "item_reference", "id": "item_1"},
        {"type": "message", "role": "assistant", "content": [{"type": "audio", "transcript": "hi"}]},
    ]}}
    wire = client_to_wire(event, "ga")
    assert wire["response"]["input"] == [
        {"type": "item_reference", "id": "item_1"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "hi"}]},
    ]
    assert client_from_wire(wire, "ga") == event


def test_unknown_audio_format_is_a_configuration_error() -> None:
    event = {"type": "session.update", "session": {"input_audio_format": "mp3"}}
    with pytest.raises(ConfigurationError, match="mp3.*pcm16"):
        client_to_wire(event, "ga")
    assert event == {"type": "session.update", "session": {"input_audio_format": "mp3"}}
    with pytest.raises(ConfigurationError, match="opus"):
        client_to_wire({"type": "response.create", "response": {"output_audio_format": "opus"}}, "ga")


def test_temperature_is_dropped_with_a_warning_unless_it_is_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="realtime_sync.dialects")
    client_to_wire({"type": "session.update", "session": {"temperature": 0.8}}, "ga")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    wire = client_to_wire({"type": "response.create", "response": {"temperature": 1.1}}, "ga")
    assert wire == {"type": "response.create", "response": {}}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1.1" in warnings[0].getMessage()


def test_malformed_and_unknown_events_pass_through() -> None:
    odd: List[Any] = [
        {"type": "session.update", "session": "not a dict"},
        {"type": "response.create", "response": None},
        {"type": "conversation.item.create", "item": ["not", "a", "dict"]},
        {"type": "conversation.item.create"},
        {"type": "something.new", "x": 1},
        {"no": "type"},
        {"type": 5},
        ["a", "list"],
        "text",
    ]
    for event in odd:
        for function in (client_to_wire, client_from_wire, server_from_wire, server_to_wire):
            assert function(event, "ga") is event


# -- server events: GA wire -> beta model ---------------------------------------------

GA_EXAMPLES = _load(_GA_SERVER_EXAMPLES)
# GA events the beta protocol has no counterpart for: they keep their name.
NO_BETA_COUNTERPART = {
    "conversation.item.done", "input_audio_buffer.dtmf_event_received",
    "input_audio_buffer.timeout_triggered", "conversation.item.input_audio_transcription.segment",
    "mcp_list_tools.in_progress", "mcp_list_tools.completed", "mcp_list_tools.failed",
    "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress", "response.mcp_call.completed", "response.mcp_call.failed",
}


def test_ga_examples_cover_every_ga_server_event() -> None:
    assert {event["type"] for event in GA_EXAMPLES} == set(GA_SERVER)


@pytest.mark.parametrize("event", GA_EXAMPLES, ids=_ids(GA_EXAMPLES))
def test_ga_server_event_to_beta_validates_against_the_beta_models(event: Event) -> None:
    before = copy.deepcopy(event)
    model_event = server_from_wire(event, "ga")
    assert event == before
    if event["type"] in NO_BETA_COUNTERPART:
        assert model_event["type"] == event["type"]
        if event["type"] != "conversation.item.done":
            assert model_event is event
        return
    validate(BETA_SERVER, model_event)
    assert model_event["event_id"] == event["event_id"]


def test_server_renames() -> None:
    renames = {
        "response.output_text.delta": "response.text.delta",
        "response.output_text.done": "response.text.done",
        "response.output_audio.delta": "response.audio.delta",
        "response.output_audio.done": "response.audio.done",
        "response.output_audio_transcript.delta": "response.audio_transcript.delta",
        "response.output_audio_transcript.done": "response.audio_transcript.done",
        "conversation.item.added": "conversation.item.created",
    }
    for event in GA_EXAMPLES:
        expected = renames.get(event["type"], event["type"])
        assert server_from_wire(event, "ga")["type"] == expected


def test_audio_delta_is_a_shallow_copy() -> None:
    delta = "UklGRg==" * 1000
    event = {"type": "response.output_audio.delta", "event_id": "event_1", "response_id": "resp_1",
             "item_id": "item_1", "output_index": 0, "content_index": 0, "delta": delta}
    model_event = server_from_wire(event, "ga")
    assert model_event is not event and event["type"] == "response.output_audio.delta"
    assert model_event["delta"] is delta
    assert {**model_event, "type": event["type"]} == event


def test_session_from_ga_exactly() -> None:
    (created,) = [event for event in GA_EXAMPLES if event["type"] == "session.created"]
    session = server_from_wire(created, "ga")["session"]
    assert session == {
        "object": "realtime.session",
        "id": "sess_C9G5QPteg4UIbotdKLoYQ",
        "model": "gpt-realtime-2025-08-28",
        "modalities": ["text", "audio"],
        "instructions": created["session"]["instructions"],
        "tools": [],
        "tool_choice": "auto",
        "max_response_output_tokens": "inf",
        "tracing": None,
        "expires_at": 1756324625,
        "input_audio_format": "pcm16",
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                           "silence_duration_ms": 200, "create_response": True,
                           "interrupt_response": True},
        "output_audio_format": "pcm16",
        "voice": "marin",
        "speed": 1,
    }


@pytest.mark.parametrize(("ga_format", "beta_format"), [
    ({"type": "audio/pcm", "rate": 24000}, "pcm16"),
    ({"type": "audio/pcm"}, "pcm16"),
    ({"type": "audio/pcmu"}, "g711_ulaw"),
    ({"type": "audio/pcma"}, "g711_alaw"),
    ({"type": "audio/pcm", "rate": 16000}, {"type": "audio/pcm", "rate": 16000}),
    ({"type": "audio/opus"}, {"type": "audio/opus"}),
    (None, None),
])
def test_audio_formats_from_ga(ga_format: Any, beta_format: Any) -> None:
    assert dialects.audio_format_from_ga(ga_format) == beta_format


def test_session_with_g711_and_a_tool_choice_from_ga() -> None:
    event = {"type": "session.updated", "event_id": "event_1", "session": {
        "type": "realtime", "output_modalities": ["text"],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "audio": {"input": {"format": {"type": "audio/pcma"}, "turn_detection": None},
                  "output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"}},
        "truncation": "auto", "include": None}}
    session = server_from_wire(event, "ga")["session"]
    assert session == {"modalities": ["text"], "tool_choice": "get_weather",
                       "input_audio_format": "g711_alaw", "turn_detection": None,
                       "output_audio_format": "g711_ulaw", "voice": "cedar",
                       "truncation": "auto"}


def test_transcription_sessions_are_not_flattened() -> None:
    event = {"type": "session.created", "event_id": "event_1", "session": {
        "type": "transcription", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}}}
    assert server_from_wire(event, "ga") == event


def test_response_and_items_from_ga() -> None:
    (done,) = [event for event in GA_EXAMPLES if event["type"] == "response.done"]
    response = server_from_wire(done, "ga")["response"]
    assert response["modalities"] == ["text", "audio"]
    assert response["voice"] == "alloy" and response["output_audio_format"] == "pcm16"
    assert "audio" not in response and "output_modalities" not in response
    assert response["output"][0]["content"] == [
        {"type": "audio", "transcript": done["response"]["output"][0]["content"][0]["transcript"]}]
    assert done["response"]["output"][0]["content"][0]["type"] == "output_audio"  # untouched
    part = {"type": "response.content_part.added", "event_id": "e", "response_id": "r",
            "item_id": "i", "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": ""}}
    assert server_from_wire(part, "ga")["part"] == {"type": "text", "text": ""}


# -- the reverse directions and round trips -------------------------------------------

BETA_SERVER_EXAMPLES = _load(_BETA_SERVER_EXAMPLES)
# Beta examples that lack fields GA requires: a GA server must add them itself.
_GA_NEEDS_MORE = {
    "conversation.item.input_audio_transcription.completed",  # GA requires usage
    "response.function_call_arguments.done",  # GA requires name
}


@pytest.mark.parametrize("event", BETA_SERVER_EXAMPLES, ids=_ids(BETA_SERVER_EXAMPLES))
def test_beta_server_event_to_ga_and_back(event: Event) -> None:
    before = copy.deepcopy(event)
    wire = server_to_wire(event, "ga")
    assert event == before
    if event["type"] not in _GA_NEEDS_MORE:
        validate(GA_SERVER, wire)
    assert server_from_wire(wire, "ga") == _without_temperature(event)


@pytest.mark.parametrize("event", ALL_CLIENT_EVENTS, ids=_ids(ALL_CLIENT_EVENTS))
def test_client_event_round_trip(event: Event) -> None:
    wire = client_to_wire(event, "ga")
    before = copy.deepcopy(wire)
    back = client_from_wire(wire, "ga")
    assert wire == before
    validate(BETA_CLIENT, back)
    # What GA cannot say differently comes back normalised, the rest exactly.
    expected = _without_temperature(event)
    session = expected.get("session")
    if isinstance(session, dict) and isinstance(session.get("turn_detection"), dict):
        session["turn_detection"] = wire["session"]["audio"]["input"]["turn_detection"]
    options = expected.get("response")
    if isinstance(options, dict) and "max_output_tokens" in options:  # the beta spec example
        options["max_response_output_tokens"] = options.pop("max_output_tokens")
    assert back == expected


def test_ga_live_stream_round_trips_through_the_beta_model() -> None:
    for event in _ga_text_stream() + _ga_audio_stream() + _ga_tool_stream():
        if event["type"] == "conversation.item.done":
            continue  # no beta counterpart: a GA server sends it on its own
        assert server_to_wire(server_from_wire(event, "ga"), "ga") == event
        validate(GA_SERVER, event)


# -- a full GA stream into a Conversation -----------------------------------------------

_AUDIO = (np.sin(np.arange(4800) / 8.0) * 8000).astype(np.int16)
_CHUNKS = [rs_audio.encode_audio(_AUDIO[i:i + 1600]) for i in range(0, 4800, 1600)]
_RESPONSE_AUDIO_GA = {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}}


def _ga_text_stream() -> List[Event]:
    """A user text turn and a text reply, as the live GA service sends them."""
    user = {"id": "item_u1", "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_text", "text": "hi"}]}
    reply_final = {"id": "item_a1", "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": "Hello there"}]}
    reply_start = {"id": "item_a1", "type": "message", "status": "in_progress", "role": "assistant",
                   "content": []}
    where = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}
    return [
        {"type": "conversation.item.added", "event_id": "event_01", "previous_item_id": None, "item": user},
        {"type": "conversation.item.done", "event_id": "event_02", "previous_item_id": None, "item": user},
        {"type": "response.created", "event_id": "event_03", "response": {
            "object": "realtime.response", "id": "resp_1", "status": "in_progress", "status_details": None,
            "output": [], "conversation_id": "conv_1", "output_modalities": ["text"],
            "max_output_tokens": "inf", "audio": _RESPONSE_AUDIO_GA, "usage": None, "metadata": None}},
        {"type": "response.output_item.added", "event_id": "event_04", "response_id": "resp_1",
         "output_index": 0, "item": reply_start},
        {"type": "conversation.item.added", "event_id": "event_05", "previous_item_id": "item_u1",
         "item": reply_start},
        {"type": "response.content_part.added", "event_id": "event_06", **where,
         "part": {"type": "text", "text": ""}},
        {"type": "response.output_text.delta", "event_id": "event_07", **where, "delta": "Hello"},
        {"type": "response.output_text.delta", "event_id": "event_08", **where, "delta": " there"},
        {"type": "response.output_text.done", "event_id": "event_09", **where, "text": "Hello there"},
        {"type": "response.content_part.done", "event_id": "event_10", **where,
         "part": {"type": "text", "text": "Hello there"}},
        {"type": "response.output_item.done", "event_id": "event_11", "response_id": "resp_1",
         "output_index": 0, "item": reply_final},
        {"type": "conversation.item.done", "event_id": "event_12", "previous_item_id": "item_u1",
         "item": reply_final},
        {"type": "response.done", "event_id": "event_13", "response": {
            "object": "realtime.response", "id": "resp_1", "status": "completed", "status_details": None,
            "output": [reply_final], "conversation_id": "conv_1", "output_modalities": ["text"],
            "max_output_tokens": "inf", "audio": _RESPONSE_AUDIO_GA,
            "usage": {"total_tokens": 20, "input_tokens": 12, "output_tokens": 8}, "metadata": None}},
    ]


def _beta_text_stream() -> List[Event]:
    """The same turn as a beta server sends it."""
    user = {"id": "item_u1", "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    reply_final = {"id": "item_a1", "object": "realtime.item", "type": "message", "status": "completed",
                   "role": "assistant", "content": [{"type": "text", "text": "Hello there"}]}
    reply_start = {"id": "item_a1", "object": "realtime.item", "type": "message",
                   "status": "in_progress", "role": "assistant", "content": []}
    where = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}
    response = {"object": "realtime.response", "id": "resp_1", "status": "in_progress",
                "status_details": None, "output": [], "usage": None}
    return [
        {"type": "conversation.item.created", "event_id": "event_01", "previous_item_id": None, "item": user},
        {"type": "response.created", "event_id": "event_03", "response": response},
        {"type": "response.output_item.added", "event_id": "event_04", "response_id": "resp_1",
         "output_index": 0, "item": reply_start},
        {"type": "conversation.item.created", "event_id": "event_05", "previous_item_id": "item_u1",
         "item": reply_start},
        {"type": "response.content_part.added", "event_id": "event_06", **where,
         "part": {"type": "text", "text": ""}},
        {"type": "response.text.delta", "event_id": "event_07", **where, "delta": "Hello"},
        {"type": "response.text.delta", "event_id": "event_08", **where, "delta": " there"},
        {"type": "response.text.done", "event_id": "event_09", **where, "text": "Hello there"},
        {"type": "response.content_part.done", "event_id": "event_10", **where,
         "part": {"type": "text", "text": "Hello there"}},
        {"type": "response.output_item.done", "event_id": "event_11", "response_id": "resp_1",
         "output_index": 0, "item": reply_final},
        {"type": "response.done", "event_id": "event_13", "response": dict(
            response, status="completed", output=[reply_final],
            usage={"total_tokens": 20, "input_tokens": 12, "output_tokens": 8})},
    ]


def _ga_audio_stream() -> List[Event]:
    """An audio reply (with its transcript) as the live GA service sends it."""
    start = {"id": "item_a2", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    final = {"id": "item_a2", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_audio", "transcript": "Hi, how can I help?"}]}
    where = {"response_id": "resp_2", "item_id": "item_a2", "output_index": 0, "content_index": 0}
    response = {"object": "realtime.response", "id": "resp_2", "status": "in_progress",
                "status_details": None, "output": [], "conversation_id": "conv_1",
                "output_modalities": ["audio"], "max_output_tokens": "inf",
                "audio": _RESPONSE_AUDIO_GA, "usage": None, "metadata": None}
    return [
        {"type": "response.created", "event_id": "event_20", "response": response},
        {"type": "response.output_item.added", "event_id": "event_21", "response_id": "resp_2",
         "output_index": 0, "item": start},
        {"type": "conversation.item.added", "event_id": "event_22", "previous_item_id": "item_a1",
         "item": start},
        {"type": "response.content_part.added", "event_id": "event_23", **where,
         "part": {"type": "audio", "transcript": ""}},
        {"type": "response.output_audio_transcript.delta", "event_id": "event_24", **where, "delta": "Hi, "},
        {"type": "response.output_audio.delta", "event_id": "event_25", **where, "delta": _CHUNKS[0]},
        {"type": "response.output_audio_transcript.delta", "event_id": "event_26", **where,
         "delta": "how can I help?"},
        {"type": "response.output_audio.delta", "event_id": "event_27", **where, "delta": _CHUNKS[1]},
        {"type": "response.output_audio.delta", "event_id": "event_28", **where, "delta": _CHUNKS[2]},
        {"type": "response.output_audio.done", "event_id": "event_29", **where},
        {"type": "response.output_audio_transcript.done", "event_id": "event_30", **where,
         "transcript": "Hi, how can I help?"},
        {"type": "response.content_part.done", "event_id": "event_31", **where,
         "part": {"type": "audio", "transcript": "Hi, how can I help?"}},
        {"type": "response.output_item.done", "event_id": "event_32", "response_id": "resp_2",
         "output_index": 0, "item": final},
        {"type": "conversation.item.done", "event_id": "event_33", "previous_item_id": "item_a1",
         "item": final},
        {"type": "response.done", "event_id": "event_34", "response": dict(
            response, status="completed", output=[final])},
    ]


def _beta_audio_stream() -> List[Event]:
    start = {"id": "item_a2", "object": "realtime.item", "type": "message", "status": "in_progress",
             "role": "assistant", "content": []}
    final = {"id": "item_a2", "object": "realtime.item", "type": "message", "status": "completed",
             "role": "assistant", "content": [{"type": "audio", "transcript": "Hi, how can I help?"}]}
    where = {"response_id": "resp_2", "item_id": "item_a2", "output_index": 0, "content_index": 0}
    response = {"object": "realtime.response", "id": "resp_2", "status": "in_progress",
                "status_details": None, "output": [], "usage": None}
    return [
        {"type": "response.created", "event_id": "event_20", "response": response},
        {"type": "response.output_item.added", "event_id": "event_21", "response_id": "resp_2",
         "output_index": 0, "item": start},
        {"type": "conversation.item.created", "event_id": "event_22", "previous_item_id": "item_a1",
         "item": start},
        {"type": "response.content_part.added", "event_id": "event_23", **where,
         "part": {"type": "audio", "transcript": ""}},
        {"type": "response.audio_transcript.delta", "event_id": "event_24", **where, "delta": "Hi, "},
        {"type": "response.audio.delta", "event_id": "event_25", **where, "delta": _CHUNKS[0]},
        {"type": "response.audio_transcript.delta", "event_id": "event_26", **where,
         "delta": "how can I help?"},
        {"type": "response.audio.delta", "event_id": "event_27", **where, "delta": _CHUNKS[1]},
        {"type": "response.audio.delta", "event_id": "event_28", **where, "delta": _CHUNKS[2]},
        {"type": "response.audio.done", "event_id": "event_29", **where},
        {"type": "response.audio_transcript.done", "event_id": "event_30", **where,
         "transcript": "Hi, how can I help?"},
        {"type": "response.content_part.done", "event_id": "event_31", **where,
         "part": {"type": "audio", "transcript": "Hi, how can I help?"}},
        {"type": "response.output_item.done", "event_id": "event_32", "response_id": "resp_2",
         "output_index": 0, "item": final},
        {"type": "response.done", "event_id": "event_34", "response": dict(
            response, status="completed", output=[final])},
    ]


def _ga_tool_stream() -> List[Event]:
    """A function call as the live GA service sends it."""
    start = {"id": "item_f1", "type": "function_call", "status": "in_progress", "name": "get_weather",
             "call_id": "call_1", "arguments": ""}
    final = dict(start, status="completed", arguments="{\"city\":\"Oslo\"}")
    where = {"response_id": "resp_3", "item_id": "item_f1", "output_index": 0, "call_id": "call_1"}
    response = {"object": "realtime.response", "id": "resp_3", "status": "in_progress",
                "status_details": None, "output": [], "conversation_id": "conv_1",
                "output_modalities": ["audio"], "max_output_tokens": "inf",
                "audio": _RESPONSE_AUDIO_GA, "usage": None, "metadata": None}
    return [
        {"type": "response.created", "event_id": "event_40", "response": response},
        {"type": "response.output_item.added", "event_id": "event_41", "response_id": "resp_3",
         "output_index": 0, "item": start},
        {"type": "conversation.item.added", "event_id": "event_42", "previous_item_id": "item_a2",
         "item": start},
        {"type": "response.function_call_arguments.delta", "event_id": "event_43", **where,
         "delta": "{\"city\":"},
        {"type": "response.function_call_arguments.delta", "event_id": "event_44", **where,
         "delta": "\"Oslo\"}"},
        {"type": "response.function_call_arguments.done", "event_id": "event_45", **where,
         "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"},
        {"type": "conversation.item.done", "event_id": "event_46", "previous_item_id": "item_a2",
         "item": final},
        {"type": "response.output_item.done", "event_id": "event_47", "response_id": "resp_3",
         "output_index": 0, "item": final},
        {"type": "response.done", "event_id": "event_48", "response": dict(
            response, status="completed", output=[final])},
    ]


def _beta_tool_stream() -> List[Event]:
    start = {"id": "item_f1", "object": "realtime.item", "type": "function_call", "status": "in_progress",
             "name": "get_weather", "call_id": "call_1", "arguments": ""}
    final = dict(start, status="completed", arguments="{\"city\":\"Oslo\"}")
    where = {"response_id": "resp_3", "item_id": "item_f1", "output_index": 0, "call_id": "call_1"}
    response = {"object": "realtime.response", "id": "resp_3", "status": "in_progress",
                "status_details": None, "output": [], "usage": None}
    return [
        {"type": "response.created", "event_id": "event_40", "response": response},
        {"type": "response.output_item.added", "event_id": "event_41", "response_id": "resp_3",
         "output_index": 0, "item": start},
        {"type": "conversation.item.created", "event_id": "event_42", "previous_item_id": "item_a2",
         "item": start},
        {"type": "response.function_call_arguments.delta", "event_id": "event_43", **where,
         "delta": "{\"city\":"},
        {"type": "response.function_call_arguments.delta", "event_id": "event_44", **where,
         "delta": "\"Oslo\"}"},
        {"type": "response.function_call_arguments.done", "event_id": "event_45", **where,
         "arguments": "{\"city\":\"Oslo\"}"},
        {"type": "response.output_item.done", "event_id": "event_47", "response_id": "resp_3",
         "output_index": 0, "item": final},
        {"type": "response.done", "event_id": "event_48", "response": dict(
            response, status="completed", output=[final])},
    ]


def _fold(events: List[Event]) -> Tuple[Conversation, List[Tuple[Optional[str], Any]]]:
    conversation = Conversation()
    results = []
    for event in events:
        item, delta = conversation.process_event(event)
        if isinstance(delta, dict) and isinstance(delta.get("audio"), np.ndarray):
            delta = {"audio": delta["audio"].tolist()}
        results.append((None if item is None else item["id"], delta))
    return conversation, results


def _comparable(value: Any) -> Any:
    """Items and responses as plain data; GA-only or beta-only echo fields removed."""
    if isinstance(value, np.ndarray):
        return ("int16", value.dtype == np.int16, value.tolist())
    if isinstance(value, dict):
        return {key: _comparable(entry) for key, entry in value.items()
                if key not in ("object", "conversation_id", "max_output_tokens", "metadata",
                               "modalities", "voice", "output_audio_format")}
    if isinstance(value, list):
        return [_comparable(entry) for entry in value]
    return value


def test_full_ga_stream_gives_the_conversation_the_same_items_as_the_beta_stream() -> None:
    ga_events = _ga_text_stream() + _ga_audio_stream() + _ga_tool_stream()
    beta_events = _beta_text_stream() + _beta_audio_stream() + _beta_tool_stream()
    translated = [server_from_wire(event, "ga") for event in ga_events]
    for event in translated:
        if event["type"] != "conversation.item.done":
            validate(BETA_SERVER, event)
    ga_conversation, ga_results = _fold(translated)
    beta_conversation, beta_results = _fold(beta_events)

    # Every event the beta stream has changed the same item with the same delta;
    # conversation.item.done, which beta lacks, completes the item it names.
    ga_without_done = [result for event, result in zip(translated, ga_results)
                       if event["type"] != "conversation.item.done"]
    assert ga_without_done == beta_results
    for event, (item_id, delta) in zip(translated, ga_results):
        if event["type"] == "conversation.item.done":
            assert item_id == event["item"]["id"] and delta is None
            assert ga_conversation.get_item(item_id)["status"] == "completed"

    assert _comparable(ga_conversation.get_items()) == _comparable(beta_conversation.get_items())
    assert _comparable(ga_conversation.responses) == _comparable(beta_conversation.responses)

    user, text_reply, audio_reply, call = ga_conversation.get_items()
    assert user["formatted"]["text"] == "hi" and user["status"] == "completed"
    assert text_reply["formatted"]["text"] == "Hello there"
    assert text_reply["content"] == [{"type": "text", "text": "Hello there"}]
    assert audio_reply["formatted"]["transcript"] == "Hi, how can I help?"
    assert np.array_equal(audio_reply["formatted"]["audio"], _AUDIO)
    assert audio_reply["content"][0]["type"] == "audio"
    assert call["formatted"]["tool"] == {"type": "function", "name": "get_weather",
                                         "call_id": "call_1", "arguments": "{\"city\":\"Oslo\"}"}
    assert [r["status"] for r in ga_conversation.responses] == ["completed"] * 3


def test_g711_session_from_ga_configures_the_conversation() -> None:
    """The flattened session's formats are what Conversation and audio.py accept."""
    event = {"type": "session.created", "event_id": "event_1", "session": {
        "type": "realtime", "object": "realtime.session", "id": "sess_1",
        "audio": {"input": {"format": {"type": "audio/pcmu"}},
                  "output": {"format": {"type": "audio/pcma"}}}}}
    session = server_from_wire(event, "ga")["session"]
    conversation = Conversation(input_audio_format=session["input_audio_format"],
                                output_audio_format=session["output_audio_format"])
    assert (conversation.input_audio_format, conversation.output_audio_format) == ("g711_ulaw", "g711_alaw")


# -- the seam at a real socket --------------------------------------------------------

def test_ga_over_a_real_socket_through_the_proposed_hooks() -> None:
    """RealtimeAPI against a GA-speaking server on 127.0.0.1, wired the way api.py should be.

    ``server.*`` listeners see the raw GA events; the conversation is fed the
    events translated by server_from_wire; the client builds beta events and
    client_to_wire turns them into the GA frames the server receives.
    """
    pytest.importorskip("websockets", reason="the fixture server needs websockets (server extra)")
    from support_ws import FixtureServer

    from realtime_sync.api import RealtimeAPI

    ga_events = _ga_text_stream() + _ga_audio_stream() + _ga_tool_stream()
    raw_types: List[str] = []
    failures: List[BaseException] = []
    conversation = Conversation()
    all_done = threading.Event()
    responses_done = []

    def on_raw(event: Event) -> None:
        raw_types.append(event["type"])

    def on_model(event: Event) -> None:
        model_event = server_from_wire(event, "ga")
        try:
            conversation.process_event(model_event)
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        if model_event["type"] == "response.done":
            responses_done.append(model_event)
            if len(responses_done) == 3:
                all_done.set()

    with FixtureServer() as server:
        # api.py adds OpenAI-Beta itself today; with protocol="ga" it will send
        # dialects.handshake_headers("ga") (none) instead.
        api = RealtimeAPI(server.url + "/v1/realtime", headers={"OpenAI-Beta": None})
        api.on("server.*", on_raw)
        api.on("server.*", on_model)
        try:
            assert api.connect(model=dialects.default_model("ga"), timeout=5.0) is True
            handshake = server.handshakes[0]
            assert "openai-beta" not in handshake.headers
            assert "model=gpt-realtime" in handshake.path

            beta_event = {"type": "session.update", "session": dict(DEFAULT_SESSION_CONFIG)}
            wire = client_to_wire(beta_event, "ga")
            sent = api.send(wire["type"], wire)
            (frame,) = server.wait_for_messages(1, timeout=5.0)
            received = json.loads(frame)
            assert received == sent and received["session"]["type"] == "realtime"
            validate(GA_CLIENT, received)

            for event in ga_events:
                server.send_json(event)
            assert all_done.wait(10.0), f"only {len(responses_done)} response.done arrived"
        finally:
            api.disconnect()

    assert failures == []
    assert raw_types == [event["type"] for event in ga_events]  # raw wire names
    beta_conversation, _ = _fold(_beta_text_stream() + _beta_audio_stream() + _beta_tool_stream())
    assert _comparable(conversation.get_items()) == _comparable(beta_conversation.get_items())
    assert np.array_equal(conversation.get_items()[2]["formatted"]["audio"], _AUDIO)


# -- GA-native session settings: merged into the stored config, the caller's values win ------------
#
# Expected shapes come from the openai GA models: every wire event is parsed by
# SessionUpdateEvent with undeclared fields refused, and the values are read
# back from the parsed model, not from our translator.

from realtime_sync.dialects import effective_session, merge_session_update  # noqa: E402

# What a user copies from OpenAI's current GA documentation.
_GA_DOC_SETTINGS: Dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["text"],
    "instructions": "Speak like a pirate.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "noise_reduction": {"type": "far_field"},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high", "create_response": True,
                               "interrupt_response": False},
        },
        "output": {"format": {"type": "audio/pcma"}, "voice": "cedar", "speed": 1.25},
    },
    "max_output_tokens": 512,
    "tool_choice": {"type": "function", "name": "get_weather"},
    "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Oslo"}},
    "tracing": {"workflow_name": "support", "group_id": "g1"},
    "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
    "include": ["item.input_audio_transcription.logprobs"],
}


def _wire_session(session: Dict[str, Any]) -> Any:
    """``session`` sent as a GA session.update, parsed by the GA model (strict)."""
    wire = client_to_wire({"event_id": "evt_s", "type": "session.update", "session": session}, "ga")
    return validate(GA_CLIENT, wire).session


def _check_doc_settings(model: Any) -> None:
    given = _GA_DOC_SETTINGS
    assert model.type == "realtime" and model.output_modalities == ["text"]
    assert model.instructions == given["instructions"] and model.max_output_tokens == 512
    assert model.audio.output.voice == "cedar" and model.audio.output.speed == 1.25
    assert model.audio.output.format.type == "audio/pcma" and model.audio.input.format.type == "audio/pcmu"
    assert model.audio.input.turn_detection.type == "semantic_vad"
    assert model.audio.input.turn_detection.eagerness == "high"
    assert model.audio.input.turn_detection.interrupt_response is False
    assert model.audio.input.noise_reduction.type == "far_field"
    assert model.audio.input.transcription.model == "gpt-4o-transcribe"
    assert model.tool_choice.type == "function" and model.tool_choice.name == "get_weather"
    assert model.prompt.id == "pmpt_123" and model.prompt.variables == {"city": "Oslo"}
    assert model.tracing.workflow_name == "support"
    assert model.truncation.retention_ratio == 0.5
    assert model.include == ["item.input_audio_transcription.logprobs"]


def test_ga_native_settings_win_over_the_stored_beta_defaults() -> None:
    stored = copy.deepcopy(DEFAULT_SESSION_CONFIG)
    before = copy.deepcopy(stored)
    merged, changed = merge_session_update(stored, _GA_DOC_SETTINGS)
    assert stored == before  # not modified
    _check_doc_settings(_wire_session(changed))  # what is sent: the changes
    _check_doc_settings(_wire_session(merged))  # the whole stored config, sent again on connect
    effective = effective_session(merged)
    assert effective["turn_detection_type"] == "semantic_vad" and effective["voice"] == "cedar"
    assert (effective["input_audio_format"], effective["output_audio_format"]) == ("g711_ulaw", "g711_alaw")
    assert effective["modalities"] == ["text"]


def test_the_issue_example_goes_on_the_wire_as_given() -> None:
    merged, changed = merge_session_update(DEFAULT_SESSION_CONFIG, {
        "type": "realtime", "output_modalities": ["text"],
        "audio": {"output": {"voice": "cedar"}, "input": {"turn_detection": {"type": "semantic_vad"}}}})
    for session in (changed, merged):
        model = _wire_session(session)
        assert model.output_modalities == ["text"] and model.audio.output.voice == "cedar"
        assert model.audio.input.turn_detection.type == "semantic_vad"
    assert effective_session(merged)["turn_detection_type"] == "semantic_vad"


def test_flat_settings_merge_the_same_way() -> None:
    stored, _ = merge_session_update(DEFAULT_SESSION_CONFIG, _GA_DOC_SETTINGS)
    merged, changed = merge_session_update(stored, {"voice": "marin", "turn_detection": None,
                                                    "max_response_output_tokens": 100})
    assert set(changed) == {"voice", "turn_detection", "max_response_output_tokens"}
    model = _wire_session(merged)
    assert model.audio.output.voice == "marin" and model.audio.input.turn_detection is None
    assert model.max_output_tokens == 100 and model.audio.input.format.type == "audio/pcmu"
    assert effective_session(merged)["turn_detection_type"] is None


def test_a_setting_given_both_ways_takes_the_ga_native_value() -> None:
    merged, changed = merge_session_update({}, {"voice": "alloy", "audio": {"output": {"voice": "cedar"}},
                                                "modalities": ["text", "audio"], "output_modalities": ["text"]})
    assert changed["voice"] == "cedar" and changed["modalities"] == ["text"]
    wire = client_to_wire({"type": "session.update", "session": {
        "voice": "alloy", "audio": {"output": {"voice": "cedar"}}, "modalities": ["text", "audio"],
        "output_modalities": ["text"]}}, "ga")
    model = validate(GA_CLIENT, dict(wire, event_id="evt_1")).session
    assert model.audio.output.voice == "cedar" and model.output_modalities == ["text"]


def test_only_what_changed_is_returned() -> None:
    merged, changed = merge_session_update(DEFAULT_SESSION_CONFIG, {"voice": DEFAULT_SESSION_CONFIG["voice"]})
    assert changed == {} and merged == DEFAULT_SESSION_CONFIG
    same_in_ga, changed = merge_session_update(merged, {"audio": {"output": {"voice": DEFAULT_SESSION_CONFIG["voice"]}}})
    assert changed == {}
    _, changed = merge_session_update(merged, {"audio": {"output": {"speed": 1.1}}})
    assert changed == {"speed": 1.1}


def test_turn_detection_without_type_is_server_vad_on_the_wire_and_in_effect() -> None:
    merged, changed = merge_session_update(DEFAULT_SESSION_CONFIG, {"turn_detection": {"silence_duration_ms": 500}})
    detection = _wire_session(changed).audio.input.turn_detection
    assert detection.type == "server_vad" and detection.silence_duration_ms == 500
    assert effective_session(merged)["turn_detection_type"] == "server_vad"
    ga_spelled, _ = merge_session_update(DEFAULT_SESSION_CONFIG,
                                         {"audio": {"input": {"turn_detection": {"silence_duration_ms": 500}}}})
    assert _wire_session(ga_spelled).audio.input.turn_detection.type == "server_vad"


def test_a_beta_format_name_in_a_ga_place_is_normalised() -> None:
    model = _wire_session({"audio": {"input": {"format": "g711_ulaw"}, "output": {"format": "pcm16"}}})
    assert model.audio.input.format.type == "audio/pcmu"
    assert model.audio.output.format.type == "audio/pcm" and model.audio.output.format.rate == 24000


def test_a_null_the_caller_gives_is_kept() -> None:
    stored, _ = merge_session_update(DEFAULT_SESSION_CONFIG, _GA_DOC_SETTINGS)
    _, changed = merge_session_update(stored, {"prompt": None, "audio": {"input": {"transcription": None}}})
    assert changed == {"prompt": None, "input_audio_transcription": None}
    model = _wire_session(changed)
    assert model.prompt is None and model.audio.input.transcription is None


def test_unknown_session_keys_are_warned_about(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="realtime_sync"):
        _, changed = merge_session_update({}, {"voise": "cedar"})
    assert changed == {"voise": "cedar"}
    assert any("voise" in record.getMessage() for record in caplog.records)


def test_effective_session_reads_a_ga_server_session_in_either_form() -> None:
    (created,) = [event for event in GA_EXAMPLES if event["type"] == "session.created"]
    validate(GA_SERVER, created)
    for session in (created["session"], server_from_wire(created, "ga")["session"]):
        effective = effective_session(session)
        assert effective["turn_detection_type"] == "server_vad"
        assert effective["turn_detection"]["silence_duration_ms"] == 200
        assert (effective["input_audio_format"], effective["output_audio_format"]) == ("pcm16", "pcm16")
        assert effective["voice"] == "marin" and effective["modalities"] == ["text", "audio"]
    semantic = copy.deepcopy(created)
    semantic["session"]["audio"]["input"]["turn_detection"] = {"type": "semantic_vad", "eagerness": "auto",
                                                               "create_response": True, "interrupt_response": True}
    semantic["session"]["audio"]["output"]["format"] = {"type": "audio/pcmu"}
    validate(GA_SERVER, semantic)
    effective = effective_session(semantic["session"])
    assert effective["turn_detection_type"] == "semantic_vad" and effective["output_audio_format"] == "g711_ulaw"


def test_effective_session_reads_a_beta_server_session() -> None:
    (created,) = [event for event in BETA_SERVER_EXAMPLES if event["type"] == "session.created"]
    effective = effective_session(created["session"])
    assert effective["turn_detection_type"] == "server_vad" and effective["voice"] == "sage"
    assert effective["input_audio_format"] == "pcm16"
    assert effective_session({"voice": "ash"}) == {"voice": "ash"}  # only what it states


def test_ga_native_session_round_trips_through_the_flat_form() -> None:
    wire = client_to_wire({"event_id": "evt_r", "type": "session.update", "session": _GA_DOC_SETTINGS}, "ga")
    validate(GA_CLIENT, wire)
    flat = dialects.session_from_ga(wire["session"])
    assert "audio" not in flat and flat["voice"] == "cedar" and flat["turn_detection"]["type"] == "semantic_vad"
    again = client_to_wire({"event_id": "evt_r", "type": "session.update", "session": flat}, "ga")
    assert validate(GA_CLIENT, again).model_dump() == validate(GA_CLIENT, wire).model_dump()


def test_out_of_band_response_create_with_ga_native_options() -> None:
    options = {"conversation": "none", "output_modalities": ["text"], "modalities": ["text", "audio"],
               "instructions": "Classify the topic.", "metadata": {"purpose": "classification"},
               "audio": {"output": {"voice": "cedar", "format": "g711_ulaw"}}, "voice": "alloy",
               "max_output_tokens": 64, "input": [
                   {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "My bill is wrong."}]}]}
    wire = client_to_wire({"event_id": "evt_o", "type": "response.create", "response": options}, "ga")
    model = validate(GA_CLIENT, wire).response
    assert model.conversation == "none" and model.output_modalities == ["text"]
    assert model.audio.output.voice == "cedar" and model.audio.output.format.type == "audio/pcmu"
    assert model.metadata == {"purpose": "classification"} and model.max_output_tokens == 64
    assert model.input[0].content[0].text == "My bill is wrong."


def test_mcp_approval_and_images_go_out_as_ga_items() -> None:
    approval = {"event_id": "evt_a", "type": "conversation.item.create",
                "item": {"type": "mcp_approval_response", "id": "mcpa_1", "approval_request_id": "mcpr_1",
                         "approve": True}}  # GA requires the item id here
    model = validate(GA_CLIENT, client_to_wire(approval, "ga"))
    assert model.item.type == "mcp_approval_response" and model.item.approve is True
    image = {"event_id": "evt_i", "type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}]}}
    model = validate(GA_CLIENT, client_to_wire(image, "ga"))
    assert [part.type for part in model.item.content] == ["input_text", "input_image"]
    assert model.item.content[1].image_url == "data:image/png;base64,iVBORw0KGgo="
