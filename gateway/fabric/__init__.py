"""A Fabric Gateway client in Python, shaped like fabric-gateway's Go and Node clients.

Built on ``hyperledger-fabric-protos`` (the ``gateway.Gateway`` gRPC stubs), ``grpcio``
and ``cryptography``. See :mod:`gateway.fabric.client` for the flow.
"""

from gateway.fabric.client import (
    ChaincodeEventStream,
    Contract,
    Gateway,
    Network,
    SubmittedTransaction,
    Timeouts,
)
from gateway.fabric.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    ResponseDecodeError,
    SubmitError,
    TransactionError,
)
from gateway.fabric.events import ChaincodeEvent, Checkpoint, InMemoryCheckpointer
from gateway.fabric.identity import Identity, MspCredentials, MspFolderError, load_msp_folder
from gateway.fabric.proposal import Proposal, ProposalBuilder
from gateway.fabric.signing import Hash, Signer, ecdsa_signer, sha256, sha384
from gateway.fabric.transaction import Status, Transaction

__all__ = [
    "ChaincodeEvent",
    "ChaincodeEventStream",
    "ChaincodeEventsError",
    "Checkpoint",
    "CommitError",
    "CommitStatusError",
    "Contract",
    "EndorseError",
    "ErrorDetail",
    "EvaluateError",
    "Gateway",
    "GatewayError",
    "Hash",
    "Identity",
    "InMemoryCheckpointer",
    "MspCredentials",
    "MspFolderError",
    "Network",
    "Proposal",
    "ProposalBuilder",
    "ResponseDecodeError",
    "Signer",
    "Status",
    "SubmitError",
    "SubmittedTransaction",
    "Timeouts",
    "Transaction",
    "TransactionError",
    "ecdsa_signer",
    "load_msp_folder",
    "sha256",
    "sha384",
]
