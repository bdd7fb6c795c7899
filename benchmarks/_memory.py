"""Memory figures for the benchmarks (Linux ``/proc``): resident sizes and the conversation's audio files.

From about 44 s of audio an item's samples live in an anonymous memory file
(``memfd_create``, see ``realtime_sync/_conversation_audio.py``) that grows
by mapping the same pages again at a larger size. Those pages count in the
process's resident size (``VmRSS``, ``VmHWM``) only where a live map has
touched them, so after each growth the pages written before it drop out of
the resident figures while still using memory. :class:`PeakMemory` counts
what the process really holds: the anonymous resident pages (``RssAnon``)
plus every audio memory file's allocated blocks, sampled as often as the
caller asks, and keeps the kernel's own peak (``VmHWM``, reset at the start)
as well, which catches an anonymous spike between two samples (a copy).
Its :meth:`PeakMemory.peak` is the larger of the two: no figure here leaves
out pages that hold samples.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Set

__all__ = ["PeakMemory", "audio_file_bytes", "status_kib"]

_AUDIO_FILE = "/memfd:realtime-sync-audio"


def status_kib(field: str) -> Optional[int]:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``, ``RssAnon``...), ``None`` off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# inode -> a descriptor of our own of each audio memory file seen: from Python 3.13 the library closes
# its descriptor once an item's audio is done, and its maps hold none (trackfd=False), so a file no
# descriptor of its own shows any more is still found (by its maps) and measured (by this descriptor)
_kept: Dict[int, int] = {}


def audio_file_bytes() -> int:
    """Bytes allocated to the conversation's audio memory files (each file once, however many maps hold it).

    A file counts while a descriptor of the process or a map shows it (the
    files seen are kept open here, so that one whose last descriptor has
    closed can still be measured; each is let go once no map shows it).
    """
    blocks: Dict[int, int] = {}
    ours = set(_kept.values())
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in names:
        try:
            fd = int(name)
            if fd in ours or not os.readlink(f"/proc/self/fd/{name}").startswith(_AUDIO_FILE):
                continue
            found = os.fstat(fd)
            blocks[found.st_ino] = found.st_blocks * 512
            if found.st_ino not in _kept:
                _kept[found.st_ino] = os.dup(fd)
        except (OSError, ValueError):
            pass  # a descriptor closed meanwhile
    if any(inode not in blocks for inode in _kept):
        mapped = _mapped_audio_files()
        for inode, fd in list(_kept.items()):
            if inode in blocks:
                continue
            if inode in mapped:
                blocks[inode] = os.fstat(fd).st_blocks * 512
            else:  # no descriptor, no map: the library has let it go
                os.close(fd)
                del _kept[inode]
    return sum(blocks.values())


def _mapped_audio_files() -> Set[int]:
    """The inodes of the audio memory files mapped in this process (``/proc/self/maps``)."""
    inodes: Set[int] = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith(_AUDIO_FILE):
                    inodes.add(int(fields[4]))
    except OSError:
        pass
    return inodes


class PeakMemory:
    """The peak memory a stretch of code needs, in bytes over what the process held at :meth:`start`."""

    def __init__(self) -> None:
        self.base_rss = 0  # KiB, VmRSS at start
        self.base_held = 0  # bytes, RssAnon + audio files at start
        self.sampled = 0  # bytes, the largest sample over base_held
        self.high_water: Optional[int] = None  # bytes, VmHWM over base_rss (None: cannot be reset here)

    def start(self) -> None:
        """Reset the kernel's peak (``/proc/self/clear_refs``) and note what is held now."""
        import gc

        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # resets VmHWM (Linux 4.0+)
            reset = True
        except OSError:
            reset = False
        self.base_rss = status_kib("VmRSS") or 0
        self.base_held = self._held()
        self.sampled = 0
        self.high_water = 0 if reset else None

    def sample(self) -> None:
        """Note what is held now (anonymous resident pages plus the audio files)."""
        over = self._held() - self.base_held
        if over > self.sampled:
            self.sampled = over

    def stop(self) -> None:
        """Take the last sample and read the kernel's peak."""
        self.sample()
        if self.high_water is not None:
            self.high_water = ((status_kib("VmHWM") or 0) - self.base_rss) * 1024

    def peak(self) -> int:
        """The larger of the sampled peak and the kernel's (bytes)."""
        return max(self.sampled, self.high_water or 0)

    def steady(self) -> int:
        """What is held now over the start (bytes), after a garbage collection."""
        import gc

        gc.collect()
        return self._held() - self.base_held

    @staticmethod
    def _held() -> int:
        return (status_kib("RssAnon") or 0) * 1024 + audio_file_bytes()
