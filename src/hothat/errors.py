"""The exceptions hothat raises.

Every exception derives from one root, so ``except HothatError`` catches all of them::

    HothatError
    ├── ConfigurationError (ValueError)     a municipality file or setting is wrong; carries every problem
    ├── UnknownChannelError (LookupError)   a config names a channel no installed plugin provides
    ├── PluginError                         a plugin failed to register or breaks the hook contract
    ├── HookError                           a hook implementation raised; the engine logs it and goes on
    ├── StoreError                          the durable store cannot be used (locked, corrupt, too new)
    │   └── ConcurrencyError                an append lost an optimistic-concurrency race
    ├── IncidentError (LookupError)         an unknown incident, step or person was named
    ├── TokenError (ValueError)             an acknowledgement link token is forged, expired, reused or misapplied
    ├── InboundError (ValueError)           a provider callback could not be verified or parsed
    └── DeliveryError                       raised by channels to steer the engine
        ├── RetryableDeliveryError          transient: the engine retries with backoff on its clock
        ├── PermanentDeliveryError          this contact point will not work: the engine moves on at once
        └── AmbiguousDeliveryError          the provider may have sent it: never resent in the same level

Messages never carry secrets or incident content: they name the file, field or setting and say what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousDeliveryError",
    "ConcurrencyError",
    "ConfigProblem",
    "ConfigurationError",
    "DeliveryError",
    "HookError",
    "HothatError",
    "InboundError",
    "IncidentError",
    "PermanentDeliveryError",
    "PluginError",
    "RetryableDeliveryError",
    "StoreError",
    "TokenError",
    "UnknownChannelError",
]


class HothatError(Exception):
    """The root of every hothat exception."""


class ConfigProblem:
    """One problem found in a configuration: where it is and what is wrong.

    Attributes:
        source: the file name (or ``"<string>"``).
        path: the field path, e.g. ``people[3].contact[1]``.
        message: what is wrong and, where it helps, what to do.
    """

    __slots__ = ("message", "path", "source")

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self.source!r}, {self.path!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigProblem):
            return NotImplemented
        return (self.source, self.path, self.message) == (other.source, other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.source, self.path, self.message))


class ConfigurationError(HothatError, ValueError):
    """A configuration is invalid. ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: Sequence[ConfigProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem("<config>", "", problems)]
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class UnknownChannelError(HothatError, LookupError):
    """A channel name was asked for that no installed plugin provides."""


class PluginError(HothatError):
    """A plugin could not be registered or breaks the hook contract."""


class HookError(HothatError):
    """A hook implementation raised. The engine records it and never lets it stop an escalation."""


class StoreError(HothatError):
    """The store cannot be used: locked, corrupt, full, or written by a newer hothat."""


class ConcurrencyError(StoreError):
    """An append expected another version of the incident: someone else appended first."""


class IncidentError(HothatError, LookupError):
    """An unknown incident, step or person was named, or the action does not fit the incident's state."""


class TokenError(HothatError, ValueError):
    """An acknowledgement link token was refused. ``reason`` is one of forged, expired, used, mismatch, malformed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"link token refused: {reason}")


class InboundError(HothatError, ValueError):
    """A provider callback was refused (bad signature, unknown sender, malformed body)."""


class DeliveryError(HothatError):
    """Raised by a channel's ``deliver`` to tell the engine what happened.

    Attributes:
        channel: the channel name, e.g. ``"sms.46elks"``.
        address: the redacted recipient address (never the full number in logs).
        retry_after: seconds the provider asked us to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        address: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.address = address
        self.retry_after = retry_after


class RetryableDeliveryError(DeliveryError):
    """A transient failure (connection, 5xx, 429): the engine retries on its clock, bounded."""


class PermanentDeliveryError(DeliveryError):
    """This contact point cannot be reached this way (bad number, refused, bad credentials)."""


class AmbiguousDeliveryError(DeliveryError):
    """The request may have reached the provider (a timeout after sending). Never resent in the same level."""
