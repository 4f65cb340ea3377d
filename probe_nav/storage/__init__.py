"""Shared SQLite storage: platform data directories, a crash-safe migrating database opener, and
keyed, chained record seals with their per-database key file."""

from probe_nav.storage.chain import TamperedRecord
from probe_nav.storage.keys import KeyFileError, key_path
from probe_nav.storage.paths import user_config_dir, user_data_dir
from probe_nav.storage.sqlite import Migration, StoreError, open_database, record_checksum

__all__ = ["KeyFileError", "Migration", "StoreError", "TamperedRecord", "key_path",
           "open_database", "record_checksum", "user_config_dir", "user_data_dir"]
