"""Uploads: the bytes a user sent, the frame read from them, its masks (auto mask cached).

Layout: ``uploads/<upload_id>/original.<ext>``, ``frame.npy``, ``mask.npy`` (a mask stored with
the frame), ``user-mask.npy``, ``auto-*.npy|json`` (cached auto masks), ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time

import numpy as np

from dip_engine import FrameError, read_frame
from dip_engine.io import DatasetChoice

from .common import _safe_suffix, _write_json, check_id, logger, new_id

#: Version of the cached auto masks: a cache of an older auto mask is not read (2: the GISAXS rod,
#: zero-count shadows, the measured symmetry in its parameters; 3: its parts one by one, the
#: GISAXS sample horizon).
AUTO_VERSION = 3

EXAMPLE_ID = "example"


class Uploads:
    """The uploads of a data folder (a part of :class:`dashboard.storage.Store`)."""

    def save_upload(self, name: str, payload: bytes, upload_id: str | None = None) -> dict:
        """Store uploaded bytes, read the frame, and return its metadata.

        Raises
        ------
        FrameError
            When the bytes are not a usable frame; nothing is kept then,
            except for a :class:`~dip_engine.io.DatasetChoice`, whose bytes
            stay so that :meth:`read_upload` can read the chosen dataset
            (the error's ``upload_id`` says where).
        """
        upload_id = check_id(upload_id or new_id())
        folder = self.uploads / upload_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"original{_safe_suffix(name)}").write_bytes(payload)
        _write_json(folder / "source.json", {"name": name})
        return self._read_new(upload_id)

    def save_upload_stream(self, name: str, stream, max_mb: float, chunk: int = 1 << 20) -> dict:
        """Like :meth:`save_upload`, from a file-like ``stream`` copied to disk in chunks,
        so a large frame never sits in memory whole. FrameError beyond ``max_mb`` MiB."""
        max_bytes = int(max_mb * 2**20)
        upload_id = new_id()
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        size = 0
        with open(folder / f"original{_safe_suffix(name)}", "wb") as out:
            while block := stream.read(chunk):
                size += len(block)
                if size > max_bytes:
                    out.close()
                    shutil.rmtree(folder, ignore_errors=True)
                    raise FrameError(f"{name}: the file is larger than the upload limit of "
                                     f"{max_mb:g} MB (XRAY_HEAL_MAX_UPLOAD_MB)")
                out.write(block)
        _write_json(folder / "source.json", {"name": name})
        return self._read_new(upload_id)

    def _read_new(self, upload_id: str) -> dict:
        """Read a just-stored upload; drop it if unusable (but keep it for a dataset choice)."""
        try:
            return self.read_upload(upload_id)
        except DatasetChoice as exc:
            exc.upload_id = upload_id
            raise
        except FrameError:
            shutil.rmtree(self.uploads / upload_id, ignore_errors=True)
            raise

    def read_upload(self, upload_id: str, frame: int = 0, dataset: str | None = None) -> dict:
        """(Re)read an upload's stored bytes, e.g. another frame or dataset; its metadata.

        On FrameError the upload keeps the frame it had.
        """
        folder = self.uploads / check_id(upload_id)
        source = next(folder.glob("original*"), None)
        if source is None:
            raise KeyError(upload_id)
        name = json.loads((folder / "source.json").read_text())["name"]
        frame_data = read_frame(source, name=name, frame=int(frame or 0), dataset=dataset or None,
                                max_pixels=self.max_pixels)
        np.save(folder / "frame.npy", frame_data.data)
        (folder / "mask.npy").unlink(missing_ok=True)
        if frame_data.mask is not None:
            np.save(folder / "mask.npy", frame_data.mask)
        if frame_data.meta.get("header"):
            _write_json(folder / "header.json", frame_data.meta["header"])
        for cached in folder.glob("auto-*"):
            cached.unlink()
        meta = {
            "upload_id": upload_id,
            "name": name,
            "shape": list(frame_data.data.shape),
            "dtype": str(frame_data.data.dtype),
            "format": frame_data.fmt,
            "frame": int(frame or 0),
            "created": time.time(),
            "warnings": frame_data.warnings,
            **{k: v for k, v in frame_data.meta.items() if k != "header"},
        }
        _write_json(folder / "meta.json", meta)
        return meta

    def load_upload(self, upload_id: str) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """(frame, stored mask or None, metadata) of an upload; KeyError if unknown."""
        folder = self.uploads / check_id(upload_id)
        if not (folder / "meta.json").is_file():
            raise KeyError(upload_id)
        data = np.load(folder / "frame.npy")
        mask_path = folder / "mask.npy"
        mask = np.load(mask_path) if mask_path.is_file() else None
        return data, mask, self.upload_meta(upload_id)

    def upload_meta(self, upload_id: str) -> dict:
        """An upload's metadata (shape, dtype, frames, ...); KeyError if unknown."""
        path = self.uploads / check_id(upload_id) / "meta.json"
        if not path.is_file():
            raise KeyError(upload_id)
        return json.loads(path.read_text())

    def auto_mask(self, upload_id: str, image: np.ndarray | None, sigma: float, contrast: float,
                  detector: str | None = None):
        """(mask, params) of :func:`dip_engine.masks.auto_mask`, cached beside the upload.

        With ``image`` None only the cache is read: None when it holds nothing yet.
        ``detector``: pyFAI's name of the frame's detector (from its geometry), if known.
        """
        cached = self.auto_parts(upload_id, image, sigma, contrast, detector)
        if cached is None:
            return None
        from dip_engine.masks import combine

        parts, params = cached
        return combine(next(iter(parts.values())).shape, *parts.values()), params

    def auto_parts(self, upload_id: str, image: np.ndarray | None, sigma: float, contrast: float,
                   detector: str | None = None):
        """(parts, params) of :func:`dip_engine.masks.auto_mask_report`, cached beside the
        upload: each part a (H, W) bool array. None as for :meth:`auto_mask`."""
        from dip_engine.masks import auto_mask_report

        folder = self.uploads / check_id(upload_id)
        key = f"auto-v{AUTO_VERSION}-{float(sigma):g}-{float(contrast):g}" + (f"-{detector}" if detector else "")
        path, info = folder / f"{key}.npz", folder / f"{key}.json"
        if path.is_file() and info.is_file():
            with np.load(path) as stored:
                return {name: stored[name] for name in stored.files}, json.loads(info.read_text())
        if image is None:
            return None
        parts, params = auto_mask_report(image, sigma=sigma, contrast=contrast, detector=detector)
        try:
            np.savez_compressed(path, **parts)
            _write_json(info, params)
        except OSError as exc:  # a full or read-only data folder: the mask still shows, uncached
            logger.warning("cannot cache the auto mask of upload %s: %s", upload_id, exc)
        return parts, params

    def upload_mask(self, upload_id: str, spec, wait_for_auto: bool = True):
        """(frame, mask, auto-mask parameters) of an upload under a :class:`~dip_engine.masks.MaskSpec`.

        The mask unites the frame's own mask, the user's mask file and what the
        spec describes. ValueError when the spec is out of range for the frame
        (:meth:`MaskSpec.check`); KeyError for an unknown upload. With
        ``wait_for_auto`` False, an auto mask not computed yet is left out
        (params then say ``{"pending": True}``) instead of computed now.
        """
        from dip_engine.masks import build_mask

        image, stored, _ = self.load_upload(upload_id)
        spec.check(image.shape)
        base = self._base_mask(upload_id, stored)
        auto, params = None, {}
        if spec.auto:
            cached = self.auto_mask(upload_id, image if wait_for_auto else None, spec.sigma, spec.contrast,
                                    spec.detector)
            if cached is None:
                spec = dataclasses.replace(spec, auto=False)
                params = {"pending": True}
            else:
                auto, params = cached
        return image, build_mask(image, spec, base, auto), params

    def upload_exclusion(self, upload_id: str, spec, mask: np.ndarray, wait_for_auto: bool = True) -> np.ndarray:
        """The pixels of an upload's ``mask`` that ``spec`` excludes (no physical data;
        :func:`dip_engine.masks.build_exclusion`). With ``wait_for_auto`` False, the auto
        mask's parts are read from the cache only, as :meth:`upload_mask` reads them."""
        from dip_engine.masks import AUTO_EXCLUDABLE, build_exclusion

        image, stored, _ = self.load_upload(upload_id)
        parts = None
        if spec.auto and set(spec.exclude) & set(AUTO_EXCLUDABLE):
            cached = self.auto_parts(upload_id, image if wait_for_auto else None, spec.sigma, spec.contrast,
                                     spec.detector)
            parts = None if cached is None else cached[0]
        return build_exclusion(image, spec, mask, self._base_mask(upload_id, stored), parts)

    def _base_mask(self, upload_id: str, stored: np.ndarray | None) -> np.ndarray | None:
        """The frame's own mask united with the user's mask file, or None without either."""
        user = self.user_mask(upload_id)
        return stored if user is None else (user if stored is None else stored | user)

    def upload_frame(self, upload_id: str, frame: int | None = None) -> np.ndarray:
        """Frame ``frame`` of an upload's file (None: the frame the page shows)."""
        if frame is None:
            return self.load_upload(upload_id)[0]
        folder = self.uploads / check_id(upload_id)
        meta = json.loads((folder / "meta.json").read_text())
        source = next(folder.glob("original*"))
        return read_frame(source, name=meta["name"], frame=int(frame), dataset=meta.get("dataset"),
                          max_pixels=self.max_pixels).data

    def save_user_mask(self, upload_id: str, name: str, payload: bytes) -> np.ndarray:
        """Store a mask file for an upload (nonzero = missing); FrameError if unusable."""
        from dip_engine import read_mask

        folder = self.uploads / check_id(upload_id)
        data, _, meta = self.load_upload(upload_id)
        source = folder / f"user-mask{_safe_suffix(name)}"
        source.write_bytes(payload)
        try:
            mask = read_mask(source, data.shape, name=name, max_pixels=self.max_pixels)
        finally:
            source.unlink(missing_ok=True)
        np.save(folder / "user-mask.npy", mask)
        return mask

    def user_mask(self, upload_id: str) -> np.ndarray | None:
        path = self.uploads / check_id(upload_id) / "user-mask.npy"
        return np.load(path) if path.is_file() else None

    def ensure_example(self) -> dict:
        """Register the bundled example frame (once) and return its metadata."""
        from dip_engine.examples import example_path

        meta_path = self.uploads / EXAMPLE_ID / "meta.json"
        if meta_path.is_file():
            return json.loads(meta_path.read_text())
        path = example_path()
        return self.save_upload(path.name, path.read_bytes(), upload_id=EXAMPLE_ID)

