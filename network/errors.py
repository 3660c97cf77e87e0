"""Errors of the network tooling; the CLI prints each as one line and exits non-zero."""


class NetworkError(Exception):
    """Base of every error the network CLI reports as one line."""


class UnknownRetailer(NetworkError):
    """No retailer of that name in the consortium description."""


class DescriptionError(NetworkError):
    """The consortium description is missing or invalid; the message names the field."""


class PortInUse(NetworkError):
    """A port of the plan is already bound by another process."""


class MissingBinary(NetworkError):
    """A Fabric binary the command needs has not been built (see `make fabric-bins`)."""


class CommandFailed(NetworkError):
    """A Fabric command (fabric-ca-client, configtxgen, ...) exited non-zero."""


class NotReady(NetworkError):
    """A started process did not become healthy in time; its log path is in the message."""


class HighSSignature(NetworkError):
    """A CA certificate's ECDSA signature has high S, which Fabric 2.1.1's MSP refuses."""


class LedgerTooOld(NetworkError):
    """The run folder's ledger was made by a version whose chaincode definition this one
    cannot upgrade (it would have to drop a collection)."""


class MembershipError(NetworkError):
    """A retailer cannot join or leave as asked (a name taken, the last member, ...)."""
