"""Component ids, in one place."""

UPLOAD = "upload"
MESSAGE = "message"
FRAME_INFO = "frame-info"
FRAME_STORE = "frame-store"
GRAPH = "frame-graph"

AUTO = "auto-mask"
SIGMA = "sigma"
CONTRAST = "contrast"
INVERT = "invert"
MASK_UPLOAD = "mask-upload"
MASK_FILE_STORE = "mask-file-store"
MASK_FORMAT = "mask-format"
MASK_DOWNLOAD_BUTTON = "mask-download-button"
MASK_DOWNLOAD = "mask-download"
BOX_THRESHOLD = "box-threshold"
ROW_THRESHOLD = "row-threshold"
COL_THRESHOLD = "col-threshold"
GROW = "grow"
MASK_SUMMARY = "mask-summary"

PRESET = "preset"
ITERATIONS = "iterations"
SEED = "seed"
HEAL = "heal-button"
CANCEL = "cancel-button"
PROGRESS_BAR = "progress-bar"
PROGRESS_TEXT = "progress-text"
PREVIEW = "preview"

RESULT_GRAPH = "result-graph"
RESULT_INFO = "result-info"
PROFILE_GRAPH = "profile-graph"
DOWNLOADS = "downloads"

#: Controls whose ``value`` shapes the mask, in the order callbacks take them.
MASK_CONTROLS = [AUTO, SIGMA, CONTRAST, BOX_THRESHOLD, ROW_THRESHOLD, COL_THRESHOLD, GROW, INVERT]
