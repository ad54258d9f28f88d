"""Loading and checking the monitor's TOML configuration.

``load_config(path)`` returns a :class:`~monitor.config.model.Config` or raises
:class:`ConfigError` listing every problem found in the file.
"""

from monitor.config.load import default_database_path, load_config
from monitor.config.model import Config
from monitor.config.problems import ConfigError, Problem

__all__ = ["Config", "ConfigError", "Problem", "default_database_path", "load_config"]
