"""Deprecated name of :mod:`fairtwin.twin.icu.folder`: ICU folders exported before the ICU twin
became the package :mod:`fairtwin.twin.icu` name ``fairtwin.twin.icu_folder:attach`` in their
``twin.toml``; they still load (with a DeprecationWarning; export the folder again to update it)."""

import warnings

from fairtwin.twin.icu.folder import ICUFolderTwin, attach

__all__ = ["ICUFolderTwin", "attach"]

warnings.warn("fairtwin.twin.icu_folder is now fairtwin.twin.icu.folder; export the ICU folder "
              "again to update its twin.toml", DeprecationWarning, stacklevel=2)
