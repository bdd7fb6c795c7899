"""Images for user messages: ``input_image`` content parts from bytes, a file or a data URL.

The GA protocol takes an image as a content part ``{"type": "input_image",
"image_url": "data:image/png;base64,..."}``. :func:`image_part` lets the
caller give the image as it has it -- raw bytes, a path, or a data URL --
under ``image`` (or ``image_url``), and returns the part as the wire wants it.
The type is read from the image's first bytes (PNG, JPEG, GIF, WebP), not
from a file name.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Dict, Optional

from ..errors import ConfigurationError

__all__ = ["image_part", "image_data_url", "IMAGE_TYPES"]

#: The image types recognised, by MIME type.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _sniff(data: bytes) -> Optional[str]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_data_url(image: Any) -> str:
    """A ``data:image/...;base64,`` URL for ``image``: bytes, a path, or a data URL (kept as it is).

    Raises:
        ConfigurationError: a file that cannot be read, bytes that are not a
            PNG, JPEG, GIF or WebP image, a string that is neither a data URL
            nor an existing file, or another type.
    """
    if isinstance(image, str) and image.startswith("data:"):
        if not image.startswith("data:image/") or ";base64," not in image:
            raise ConfigurationError(f"an image data URL must look like data:image/png;base64,..., got {image[:40]!r}")
        return image
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the image {path!r}: {exc.strerror or exc}") from None
        where = repr(path)
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        where = f"the {len(data)} bytes given"
    else:
        raise ConfigurationError(
            f"an image must be bytes, a path or a data URL, got {type(image).__name__}"
        )
    mime = _sniff(data)
    if mime is None:
        raise ConfigurationError(f"{where} is not a PNG, JPEG, GIF or WebP image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_part(part: Dict[str, Any]) -> Dict[str, Any]:
    """An ``input_image`` part with its image as a data URL (a new dict).

    ``part`` names the image under ``image`` (bytes, a path or a data URL) or
    ``image_url`` (a URL string is kept as it is; bytes or a path are
    converted); ``detail`` and other keys are kept.

    Raises:
        ConfigurationError: no image, both keys, or an image
            :func:`image_data_url` refuses.
    """
    result = dict(part)
    if "image" in result:
        if "image_url" in result:
            raise ConfigurationError('an input_image part takes "image" or "image_url", not both')
        result["image_url"] = image_data_url(result.pop("image"))
    elif "image_url" in result:
        url = result["image_url"]
        if not (isinstance(url, str) and not os.path.exists(url)):
            result["image_url"] = image_data_url(url)
        elif url.startswith("data:"):
            image_data_url(url)  # checks its shape
    else:
        raise ConfigurationError('an input_image part needs "image" (bytes, a path or a data URL) or "image_url"')
    return result
