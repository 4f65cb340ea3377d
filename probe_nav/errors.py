"""Errors that the command line turns into one line on standard error and an exit status."""


class UserError(Exception):
    """The user asked for something impossible (bad argument, missing device, bad file): exit 2."""

    exit_status = 2


class RunFailure(Exception):
    """Something failed at run time that is not the user's mistake: exit 1."""

    exit_status = 1
