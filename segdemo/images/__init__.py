"""The image-IO boundary: the one place that decodes user files and touches PIL/numpy.

Everything the rest of the demo sees is a torch tensor. Three jobs, one module each:

- :mod:`~segdemo.images.decode`: :func:`load_image`, a photo → uint8 [3, H, W] RGB, decoded
  safely (format allow-list, file / pixel / side / aspect caps checked before any pixel is
  decoded, EXIF orientation, every PIL mode made RGB); :class:`InputError` for what a user can fix.
- :mod:`~segdemo.images.annotations`: :func:`read_annotation` / :func:`load_annotation`, a label
  map → int32 [H, W] with the values as stored.
- :mod:`~segdemo.images.encode`: :func:`to_numpy_hwc`, :func:`rgb_image`, :func:`label_image`,
  :func:`jpeg_data_url`, :func:`jpeg_bytes`, :func:`mask_png_bytes`, :func:`png_bytes`,
  :func:`pil_png_bytes`, :func:`save_png`, :func:`save_label_png`, the way back out.

Importing this package changes no process-wide state (PIL's ``MAX_IMAGE_PIXELS``, the
``warnings`` filters). The limits are re-exported here for reading; the code reads them from
the submodule that defines them, so that is the place to change them.
"""

from segdemo.images.annotations import MAX_LABELS, Annotation, load_annotation, read_annotation
from segdemo.images.decode import (
    ALLOWED_FORMATS,
    MAX_ASPECT,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    ImageSource,
    InputError,
    load_image,
)
from segdemo.images.encode import (
    jpeg_bytes,
    jpeg_data_url,
    label_image,
    mask_png_bytes,
    pil_png_bytes,
    png_bytes,
    rgb_image,
    save_label_png,
    save_png,
    to_numpy_hwc,
    write_atomically,
)
from segdemo.images.panoptic_annotations import read_panoptic_annotation

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_ASPECT",
    "MAX_FILE_BYTES",
    "MAX_LABELS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "Annotation",
    "ImageSource",
    "InputError",
    "jpeg_bytes",
    "jpeg_data_url",
    "label_image",
    "load_annotation",
    "load_image",
    "mask_png_bytes",
    "pil_png_bytes",
    "png_bytes",
    "read_annotation",
    "read_panoptic_annotation",
    "rgb_image",
    "save_label_png",
    "save_png",
    "to_numpy_hwc",
    "write_atomically",
]
