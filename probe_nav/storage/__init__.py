"""Shared SQLite storage: platform data directories and a crash-safe, migrating database opener."""

from probe_nav.storage.paths import user_config_dir, user_data_dir
from probe_nav.storage.sqlite import Migration, StoreError, open_database, record_checksum

__all__ = ["Migration", "StoreError", "open_database", "record_checksum", "user_config_dir",
           "user_data_dir"]
