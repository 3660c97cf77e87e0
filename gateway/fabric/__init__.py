"""A Fabric client in Python, shaped like fabric-gateway's Go and Node clients.

Built on ``hyperledger-fabric-protos``, ``grpcio`` and ``cryptography``, speaking the
services every Fabric 2.x/3.x node serves: ``Endorser.ProcessProposal`` on peers,
``AtomicBroadcast.Broadcast`` on orderers, ``Deliver.DeliverFiltered`` on the own peer.
See :mod:`gateway.fabric.client` for the flow.
"""

from gateway.fabric.client import (
    ChaincodeEventStream,
    Contract,
    Gateway,
    Network,
    SubmittedTransaction,
    Timeouts,
)
from gateway.fabric.commits import CommitListener
from gateway.fabric.endorsement import EndorsementPolicy
from gateway.fabric.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    EndorsementMismatchError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    Refusal,
    RefusalDecoder,
    SubmitError,
    TransactionError,
    no_refusals,
    refusal_decoder,
)
from gateway.fabric.events import ChaincodeEvent, Checkpoint, InMemoryCheckpointer
from gateway.fabric.identity import Identity, MspCredentials, MspFolderError, load_msp_folder
from gateway.fabric.nodes import Endpoint, Node, dial
from gateway.fabric.proposal import Proposal, ProposalBuilder
from gateway.fabric.signing import Hash, Signer, ecdsa_signer, sha256, sha384
from gateway.fabric.transaction import Status, Transaction

__all__ = [
    "ChaincodeEvent",
    "ChaincodeEventStream",
    "ChaincodeEventsError",
    "Checkpoint",
    "CommitError",
    "CommitListener",
    "CommitStatusError",
    "Contract",
    "EndorseError",
    "EndorsementMismatchError",
    "EndorsementPolicy",
    "Endpoint",
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
    "Node",
    "Proposal",
    "ProposalBuilder",
    "Refusal",
    "RefusalDecoder",
    "Signer",
    "Status",
    "SubmitError",
    "SubmittedTransaction",
    "Timeouts",
    "Transaction",
    "TransactionError",
    "dial",
    "ecdsa_signer",
    "load_msp_folder",
    "no_refusals",
    "refusal_decoder",
    "sha256",
    "sha384",
]
