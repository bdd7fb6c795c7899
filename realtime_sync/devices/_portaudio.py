"""PortAudio plumbing for :mod:`realtime_sync.devices` (private).

Loading pyaudio lazily (a missing pyaudio or PortAudio becomes an
:class:`~realtime_sync.errors.AudioUnavailableError` that says what to
install), starting PortAudio without the ALSA/JACK noise it prints on stderr,
finding a device by index or name, choosing a sample rate the device accepts,
and opening and releasing mono 16-bit streams without letting a vanished
device hang the caller; and :func:`list_devices`, which the package exports.
Importing this module does not import pyaudio.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import logging
import os
import threading
from typing import Any, Callable, Dict, List, Literal, NamedTuple, Optional, Union

from ..errors import AudioDeviceError, AudioUnavailableError, ConfigurationError

__all__ = [
    "DeviceSpec",
    "Direction",
    "OpenedStream",
    "import_pyaudio",
    "open_portaudio",
    "list_devices",
    "device_list",
    "default_index",
    "resolve_device",
    "pick_rate",
    "open_stream",
    "release",
    "run_with_timeout",
]

logger = logging.getLogger(__name__)

#: A device: its index, a (case-insensitive) substring of its name, or None for the default.
DeviceSpec = Optional[Union[int, str]]
#: Which way audio flows: ``"input"`` (a microphone) or ``"output"`` (a speaker).
#: PortAudio's keyword arguments and our device dicts are named after it
#: (``input_device_index``, ``max_output_channels``...).
Direction = Literal["input", "output"]

_INSTALL_HINT = (
    "install the audio extra with `pip install 'realtime_sync[audio]'`; pyaudio needs "
    "the PortAudio library (Debian/Ubuntu: `sudo apt-get install portaudio19-dev`, "
    "then reinstall pyaudio; macOS: `brew install portaudio`)"
)


# ---------------------------------------------------------------------------
# pyaudio loading and PortAudio start-up


_pyaudio_module: Any = None
_alsa_handler: Any = None  # keeps the ctypes callback alive


def import_pyaudio() -> Any:
    """Import pyaudio once, or raise :class:`AudioUnavailableError` saying what to install."""
    global _pyaudio_module
    if _pyaudio_module is None:
        try:
            import pyaudio  # noqa: PLC0415  (optional dependency)
        except ImportError as exc:
            raise AudioUnavailableError(
                f"pyaudio is not importable ({exc}); {_INSTALL_HINT}"
            ) from exc
        _pyaudio_module = pyaudio
    return _pyaudio_module


def _silence_alsa_errors() -> None:
    """Route ALSA's library error printout away from stderr (once per process).

    Without this, ALSA prints a dozen "Unknown PCM cards.pcm.rear" lines every
    time PortAudio enumerates devices. The handler only drops the text.
    """
    global _alsa_handler
    if _alsa_handler is not None:
        return
    name = ctypes.util.find_library("asound")
    if not name:
        _alsa_handler = False
        return
    try:
        lib = ctypes.CDLL(name)
        handler_type = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )

        def _drop(filename: Any, line: int, function: Any, err: int, fmt: Any) -> None:
            return None

        handler = handler_type(_drop)
        lib.snd_lib_error_set_handler(handler)
        _alsa_handler = handler
        # hand ALSA its default handler back before the interpreter goes away, so a
        # native audio thread never calls into a finalised Python
        atexit.register(lib.snd_lib_error_set_handler, None)
    except (OSError, AttributeError):  # no ALSA (macOS, Windows) or an odd build
        _alsa_handler = False


class _StderrMuted:
    """Point file descriptor 2 at /dev/null while PortAudio starts (JACK probing noise).

    Skipped when this logger (a child of ``realtime_sync.devices``) is enabled for DEBUG, so
    the native messages stay visible to someone debugging a device problem.
    """

    def __init__(self) -> None:
        self._saved: Optional[int] = None

    def __enter__(self) -> "_StderrMuted":
        if logger.isEnabledFor(logging.DEBUG):
            return self
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                self._saved = os.dup(2)
                os.dup2(devnull, 2)
            finally:
                os.close(devnull)
        except OSError:
            self._saved = None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None


def open_portaudio() -> Any:
    """Return a new ``pyaudio.PyAudio`` (PortAudio initialised), quietly.

    PortAudio probes every host API when it starts. To keep that quiet, the
    first call installs a no-op ALSA error handler for the process, sets
    ``JACK_NO_START_SERVER=1`` unless the environment already sets it (so
    probing JACK never launches a server), and points file descriptor 2 at
    /dev/null for the duration of ``PyAudio()`` (not when the
    ``realtime_sync.devices`` logger is enabled for DEBUG).

    Raises:
        AudioUnavailableError: pyaudio is missing or PortAudio failed to start.
    """
    pyaudio = import_pyaudio()
    _silence_alsa_errors()
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        with _StderrMuted():
            return pyaudio.PyAudio()
    except Exception as exc:  # PortAudio reports start-up failures as OSError or SystemError
        raise AudioUnavailableError(f"PortAudio could not start: {exc}; {_INSTALL_HINT}") from exc


# ---------------------------------------------------------------------------
# Devices, rates and streams


def _device_dict(info: Dict[str, Any], host_apis: Dict[int, str]) -> Dict[str, Any]:
    return {
        "index": int(info["index"]),
        "name": str(info["name"]),
        "max_input_channels": int(info["maxInputChannels"]),
        "max_output_channels": int(info["maxOutputChannels"]),
        "default_sample_rate": float(info["defaultSampleRate"]),
        "host_api": host_apis.get(int(info.get("hostApi", -1)), ""),
    }


def device_list(pa: Any) -> List[Dict[str, Any]]:
    """Every device ``pa`` (a ``pyaudio.PyAudio``) sees, as ``list_devices()`` dicts (no default flags)."""
    host_apis: Dict[int, str] = {}
    for i in range(pa.get_host_api_count()):
        host_apis[i] = str(pa.get_host_api_info_by_index(i)["name"])
    return [
        _device_dict(pa.get_device_info_by_index(i), host_apis) for i in range(pa.get_device_count())
    ]


def default_index(pa: Any, kind: Direction) -> Optional[int]:
    """The index of the system default ``kind`` ("input"/"output") device, or None if there is none."""
    try:
        if kind == "input":
            return int(pa.get_default_input_device_info()["index"])
        return int(pa.get_default_output_device_info()["index"])
    except (IOError, OSError):
        return None


def list_devices() -> List[Dict[str, Any]]:
    """List the sound devices PortAudio sees.

    Returns:
        One dict per device: ``index``, ``name``, ``max_input_channels``,
        ``max_output_channels``, ``default_sample_rate`` (Hz, float),
        ``host_api`` (for example ``"ALSA"``), and ``default_input`` /
        ``default_output`` (bool: the system default for that direction).

    Raises:
        AudioUnavailableError: pyaudio or PortAudio is missing.
    """
    pa = open_portaudio()
    try:
        devices = device_list(pa)
        default_in = default_index(pa, "input")
        default_out = default_index(pa, "output")
    finally:
        pa.terminate()
    for device in devices:
        device["default_input"] = device["index"] == default_in
        device["default_output"] = device["index"] == default_out
    return devices


def resolve_device(pa: Any, device: DeviceSpec, kind: Direction) -> Dict[str, Any]:
    """Find the device for ``kind`` ("input" or "output") from an index, a name part or None.

    Raises:
        AudioDeviceError: no such device, or it has no channels in that direction.
    """
    channels_key = f"max_{kind}_channels"
    devices = device_list(pa)
    usable = [d for d in devices if d[channels_key] > 0]
    if device is None:
        index = default_index(pa, kind)
        if index is None:
            if not usable:
                raise AudioDeviceError(
                    f"no {kind} sound device found (PortAudio sees {len(devices)} device(s), "
                    f"none with {kind} channels); connect one or check list_devices()"
                )
            return usable[0]
        return next(d for d in devices if d["index"] == index)
    if isinstance(device, bool) or not isinstance(device, (int, str)):
        raise ConfigurationError(
            f"device must be an index, a name or None, not {type(device).__name__}"
        )
    if isinstance(device, int):
        match = [d for d in devices if d["index"] == device]
        if not match:
            raise AudioDeviceError(
                f"no sound device with index {device} (there are {len(devices)}; see list_devices())"
            )
        if match[0][channels_key] <= 0:
            raise AudioDeviceError(f"sound device {device} ({match[0]['name']!r}) has no {kind} channels")
        return match[0]
    wanted = device.lower()
    exact = [d for d in usable if d["name"].lower() == wanted]
    if exact:
        return exact[0]
    partial = [d for d in usable if wanted in d["name"].lower()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(repr(d["name"]) for d in (partial or usable))
    if not partial:
        raise AudioDeviceError(f"no {kind} sound device whose name contains {device!r}; {kind} devices: {names}")
    raise AudioDeviceError(f"{device!r} matches several {kind} devices ({names}); give more of the name or the index")


def pick_rate(pa: Any, info: Dict[str, Any], kind: Direction, wanted: Optional[int], preferred: int) -> int:
    """Choose a sample rate the device accepts for mono int16.

    ``wanted`` (the caller's explicit rate) must work or we raise; otherwise try
    the format's own rate first (no resampling), then the device default and
    the usual rates.
    """
    pyaudio = import_pyaudio()

    def supported(rate: int) -> bool:
        kwargs = {f"{kind}_device": info["index"], f"{kind}_channels": 1, f"{kind}_format": pyaudio.paInt16}
        try:
            return bool(pa.is_format_supported(rate=rate, **kwargs))
        except ValueError:
            return False

    if wanted is not None:
        if supported(int(wanted)):
            return int(wanted)
        raise AudioDeviceError(
            f"{kind} device {info['name']!r} does not accept {wanted} Hz mono 16-bit audio; "
            f"its default rate is {info['default_sample_rate']:.0f} Hz"
        )
    candidates = [preferred, int(info["default_sample_rate"]), 48000, 44100, 16000, 32000, 8000]
    for rate in dict.fromkeys(candidates):
        if rate > 0 and supported(rate):
            return rate
    raise AudioDeviceError(
        f"{kind} device {info['name']!r} accepts none of the rates {sorted(set(candidates))} Hz "
        "for mono 16-bit audio"
    )


class OpenedStream(NamedTuple):
    """What :func:`open_stream` opened, and the device and format it chose."""

    stream: Any  # the pyaudio.Stream
    info: Dict[str, Any]  # the device, a list_devices() dict
    rate: int  # the device's sample rate (Hz)
    frames: int  # frames per PortAudio buffer


def open_stream(
    pa: Any,
    kind: Direction,
    device: DeviceSpec,
    wanted_rate: Optional[int],
    preferred_rate: int,
    *,
    buffer_ms: float,
    **options: Any,
) -> OpenedStream:
    """Open a mono 16-bit ``kind`` stream on ``device`` (see :func:`resolve_device`).

    The rate is chosen by :func:`pick_rate`; each PortAudio buffer holds
    ``buffer_ms`` milliseconds. ``options`` go to ``pa.open`` unchanged (for
    example ``stream_callback`` and ``start`` for a callback-mode input).

    Raises:
        ConfigurationError: ``device`` is neither an index, a name nor None.
        AudioDeviceError: no such device, no rate it accepts, or PortAudio
            would not open it.
    """
    pyaudio = import_pyaudio()
    info = resolve_device(pa, device, kind)
    rate = pick_rate(pa, info, kind, wanted_rate, preferred_rate)
    frames = max(1, int(rate * buffer_ms / 1000))
    options.update({kind: True, f"{kind}_device_index": info["index"]})
    try:
        stream = pa.open(format=pyaudio.paInt16, channels=1, rate=rate, frames_per_buffer=frames, **options)
    except (IOError, OSError, ValueError) as exc:
        raise AudioDeviceError(f"cannot open {kind} device {info['name']!r} at {rate} Hz: {exc}") from exc
    return OpenedStream(stream, info, rate, frames)


# ---------------------------------------------------------------------------
# Calls that a vanished device can block


def run_with_timeout(func: Callable[[], Any], timeout: float, what: str) -> bool:
    """Run ``func`` on a helper thread and wait at most ``timeout`` seconds.

    PortAudio calls on a device that vanished can block; this keeps stop() and
    close() from hanging the caller. Returns False (and logs) on timeout.
    """
    errors: List[BaseException] = []

    def target() -> None:
        try:
            func()
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"realtime-sync-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        logger.warning("%s did not finish within %.1f s; the sound device may be gone", what, timeout)
        return False
    if errors:
        logger.warning("%s failed: %s", what, errors[0])
    return True


def release(stream: Any, pa: Any, what: str) -> None:
    """Close ``stream`` (if any), then terminate ``pa`` (if any), 2 s at most each.

    If the stream does not close in time, PortAudio is stuck in the device and
    terminating it would block the same way: both are then left to the
    process exit (logged by :func:`run_with_timeout`).
    """
    if stream is not None and not run_with_timeout(stream.close, 2.0, f"{what}-close"):
        return
    if pa is not None:
        run_with_timeout(pa.terminate, 2.0, "portaudio-terminate")
