"""Where the app's Screenshot command (palette) saves: the Downloads folder, or the working
directory when there is none, and a notification naming the file or why it could not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformdirs import user_downloads_path


class SavesScreenshots:
    """Mixed into the app ahead of Textual's ``App`` (which provides ``save_screenshot`` and
    ``notify``): Textual's own delivery fails with no reason when ~/Downloads is missing."""

    save_screenshot: Any
    notify: Any

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        folder = Path(path or user_downloads_path())
        folder = folder if folder.is_dir() else Path.cwd()
        try:
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as exc:
            self.notify(f"Cannot save the screenshot in {folder}: {exc}", severity="error")
            return None
        self.notify(f"Screenshot saved to {saved}")
        return str(saved)
