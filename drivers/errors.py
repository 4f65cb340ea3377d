"""Driver errors: what the application can tell the user in one line."""


class DriverError(Exception):
    """Base class of errors raised by drivers."""


class DeviceNotFound(DriverError):
    """The device path or URL does not name a device that can be opened."""


class UnknownProtocol(DriverError):
    """No driver is registered under the requested protocol name."""


class DeviceTimeout(DriverError):
    """The device did not answer in time."""
